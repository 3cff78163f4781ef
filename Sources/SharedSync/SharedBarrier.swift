/// A barrier among `participants` processes over shared words: each participant publishes the
/// generation it reached in its own word (no contended counter, and a time-out can name who is
/// missing); participant 0 waits for everyone, then publishes the release word.
/// Generations start at 1 and grow by one per barrier; every participant counts them itself.
public struct SharedBarrier {
    @usableFromInline let release: SharedWord
    @usableFromInline let arrivals: UnsafeBufferPointer<UnsafeMutableRawPointer>

    /// `arrivals[i]` is participant i's word; `release` is read by all, written by participant 0.
    /// The arrivals buffer must outlive the barrier.
    @inlinable
    public init(release: UnsafeMutableRawPointer, arrivals: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
        self.release = SharedWord(at: release)
        self.arrivals = arrivals
    }

    public enum Outcome: Equatable {
        case passed
        /// The deadline passed; the participants that had not arrived.
        case timedOut(missing: [Int])
    }

    /// Arrives at barrier `generation` as `participant` and waits for everyone.
    /// Arrival publishes with release ordering and passing acquires, so every store a participant
    /// made before arriving is visible to every participant after passing. `whileWaiting` runs
    /// between checks: work others may need from us before they can arrive.
    @inlinable
    public func arrive(participant: Int, generation: UInt64, _ policy: WaitPolicy,
                       whileWaiting: () -> Void = {}) -> Outcome {
        SharedWord(at: arrivals[participant]).store(generation)
        if participant == 0 {
            let everyone = waitUntil(policy) {
                whileWaiting()
                for word in arrivals where SharedWord(at: word).load() < generation { return false }
                return true
            }
            guard everyone else { return .timedOut(missing: missing(generation)) }
            release.store(generation)
            return .passed
        }
        let released = waitUntil(policy) {
            whileWaiting()
            return release.load() >= generation
        }
        return released ? .passed : .timedOut(missing: missing(generation))
    }

    /// Participants whose arrival word is below `generation`; for a time-out message.
    public func missing(_ generation: UInt64) -> [Int] {
        let late = arrivals.indices.filter { SharedWord(at: arrivals[$0]).load() < generation }
        return late.isEmpty ? [0] : late  // everyone arrived: only the release from 0 is missing
    }
}
