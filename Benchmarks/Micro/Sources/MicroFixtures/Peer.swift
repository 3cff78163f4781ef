import Glibc
import SharedSync

/// A second thread standing for the peer process: it repeats `step` until the Peer is released,
/// which stops and joins it. `step` runs on that thread only, so it may keep state of its own.
public final class Peer {
    /// The peer's waits give up soon, so that `step` returns and the thread sees it was stopped
    /// even when the main thread has stopped answering. A timed-out step is simply repeated.
    public static let policy = WaitPolicy(timeoutSeconds: 0.05)

    private final class Context {
        let step: () -> Void
        let region: SharedRegion
        let stop = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)

        init(step: @escaping () -> Void, region: SharedRegion) {
            self.step = step
            self.region = region
            stop.storeBytes(of: 0, as: UInt64.self)
        }

        deinit { stop.deallocate() }
    }

    private let context: Context
    private var thread = pthread_t()

    /// `region` stays mapped until the thread has stopped.
    public init(_ region: SharedRegion, step: @escaping () -> Void) {
        context = Context(step: step, region: region)
        let started = pthread_create(&thread, nil, { argument in
            let context = Unmanaged<Context>.fromOpaque(argument!).takeRetainedValue()
            while SharedWord(at: context.stop).load() == 0 { context.step() }
            return nil
        }, Unmanaged.passRetained(context).toOpaque())
        precondition(started == 0, "cannot start the peer thread: errno \(started)")
    }

    deinit {
        SharedWord(at: context.stop).store(1)
        pthread_join(thread, nil)
    }
}
