/// A mutual-exclusion lock in one shared word: 0 when free, else the holder's nonzero token
/// (so a tool can tell who holds it). Held for short critical sections only, such as applying
/// one accumulate or editing the allocator's table.
public struct SharedSpinLock {
    @usableFromInline let word: SharedWord

    @inlinable public init(at address: UnsafeMutableRawPointer) { word = SharedWord(at: address) }

    @inlinable
    public func tryLock(token: UInt64) -> Bool {
        precondition(token != 0, "a lock token must be nonzero")
        return word.loadRelaxed() == 0 && word.compareExchange(expected: 0, desired: token).exchanged
    }

    /// Returns false if the policy's deadline passed before the lock was free.
    @inlinable
    public func lock(token: UInt64, _ policy: WaitPolicy) -> Bool {
        waitUntil(policy) { tryLock(token: token) }
    }

    @inlinable public func unlock() { word.store(0) }

    /// The holder's token, 0 when free.
    @inlinable public var holder: UInt64 { word.load() }
}

/// A reader/writer lock in one shared word, the passive-target lock of an MPI window:
/// the top bit marks an exclusive holder, whose token the low bits then hold (so a time-out can
/// name it); without the top bit, the low bits count shared holders.
public struct SharedRWLock {
    public static let exclusiveBit: UInt64 = 1 << 63
    @usableFromInline let word: SharedWord

    @inlinable public init(at address: UnsafeMutableRawPointer) { word = SharedWord(at: address) }

    @inlinable
    public func tryLockExclusive(holder: UInt64 = 0) -> Bool {
        word.loadRelaxed() == 0 && word.compareExchange(expected: 0, desired: Self.exclusiveBit | holder).exchanged
    }

    @inlinable
    public func tryLockShared() -> Bool {
        let current = word.loadRelaxed()
        guard current & Self.exclusiveBit == 0 else { return false }
        return word.compareExchange(expected: current, desired: current + 1).exchanged
    }

    /// `holder`: a token below 2^63 that `exclusiveHolder` reports while the lock is held.
    @inlinable public func lockExclusive(_ policy: WaitPolicy, holder: UInt64 = 0) -> Bool {
        waitUntil(policy) { tryLockExclusive(holder: holder) }
    }
    @inlinable public func lockShared(_ policy: WaitPolicy) -> Bool { waitUntil(policy) { tryLockShared() } }

    /// Releases with release ordering, so the holder's stores are visible to the next holder.
    @inlinable public func unlockExclusive() { word.store(0) }
    @inlinable public func unlockShared() { word.add(UInt64.max) }  // wrapping add of -1

    /// The raw state, for diagnostics.
    @inlinable public var state: UInt64 { word.load() }

    /// The exclusive holder's token, nil when the lock is free or held shared.
    public var exclusiveHolder: UInt64? {
        let current = word.load()
        return current & Self.exclusiveBit != 0 ? current & ~Self.exclusiveBit : nil
    }
}
