import Atomics

/// One 64-bit atomic word at a raw address, typically inside the shared region.
/// The address must be 8-byte aligned and stay mapped while the value is used.
public struct SharedWord {
    @usableFromInline let atomic: UnsafeAtomic<UInt64>

    @inlinable
    public init(at address: UnsafeMutableRawPointer) {
        atomic = UnsafeAtomic(at: address.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    @inlinable public func load() -> UInt64 { atomic.load(ordering: .acquiring) }
    @inlinable public func loadRelaxed() -> UInt64 { atomic.load(ordering: .relaxed) }
    /// Stores and adds may release a waiter: both fence write-combining stores first (ReleaseFence)
    /// and ring the peers asleep on the doorbell, if any.
    @inlinable public func store(_ value: UInt64) {
        ReleaseFence.beforeRelease()
        atomic.store(value, ordering: .releasing)
        Doorbell.wakeSleepers()
    }

    /// Adds `delta` and returns the new value.
    @inlinable @discardableResult
    public func add(_ delta: UInt64) -> UInt64 {
        ReleaseFence.beforeRelease()
        let result = atomic.wrappingIncrementThenLoad(by: delta, ordering: .acquiringAndReleasing)
        Doorbell.wakeSleepers()
        return result
    }

    @inlinable
    public func compareExchange(expected: UInt64, desired: UInt64) -> (exchanged: Bool, original: UInt64) {
        atomic.compareExchange(expected: expected, desired: desired, ordering: .acquiringAndReleasing)
    }

    /// Waits until the word is at least `target` (counters only grow, so this tolerates wrap-free monotonic use).
    @inlinable
    public func wait(atLeast target: UInt64, _ policy: WaitPolicy) -> Bool {
        waitUntil(policy) { load() >= target }
    }
}
