import CShims

/// A window member's inbox in the region, for windows over private memory (MPI_Win_create): origins
/// append requests (put data, get requests, accumulates) to the member's ring, and the member applies
/// them to its own memory; fetched data comes back through the origin's reply area.
///
/// Layout, from the mailbox's start (each word on its own cache line):
///
///     0    producer lock   SharedSpinLock: origins append one at a time
///     64   head            bytes appended since the window was created (published after the record)
///     128  tail            bytes applied by the owner (published after applying the record)
///     192  replies         the last fetch sequence a target answered into this member's reply area
///     256  departed        nonzero once the member is done with the window (MPI_Win_free, MPI_Finalize)
///     320  ring            `capacity` bytes of records; a record never wraps (a pad record fills the end)
///     320 + capacity       reply area, `replyCapacity` bytes: targets copy fetched bytes here
///
/// Every record starts on a 64-byte boundary with two words the ring itself reads: its kind (low 32
/// bits of word 0; `padKind` fills the end of the ring when a record does not fit there) and its
/// size in bytes (word 1, a multiple of 64). The rest is the user's (RMA's `Record`). The ring
/// lives in memory other guests can write: every size read back is checked. A value holds only
/// addresses, so threads and processes share it freely (hence Sendable).
public struct Mailbox: @unchecked Sendable {
    public static let headerSize = 320
    public static let alignment = 64

    public let start: UnsafeMutableRawPointer
    public let capacity: Int
    public let replyCapacity: Int
    /// Word 0 of a record that only fills the end of the ring.
    public static let padKind: UInt64 = 1
    static let sizeWord = 8

    public init(start: UnsafeMutableRawPointer, capacity: Int, replyCapacity: Int) {
        (self.start, self.capacity, self.replyCapacity) = (start, capacity, replyCapacity)
    }

    public static func size(capacity: Int, replyCapacity: Int) -> Int { headerSize + capacity + replyCapacity }

    public var producerLock: SharedSpinLock { SharedSpinLock(at: start) }
    public var head: SharedWord { SharedWord(at: start + 64) }
    public var tail: SharedWord { SharedWord(at: start + 128) }
    public var replies: SharedWord { SharedWord(at: start + 192) }
    public var departed: SharedWord { SharedWord(at: start + 256) }
    public var ring: UnsafeMutableRawPointer { start + Self.headerSize }
    public var replyArea: UnsafeMutableRawPointer { start + Self.headerSize + capacity }

    /// The largest record an origin may append: half the ring, so a pad plus a record always fit.
    public var largestRecord: Int { capacity / 2 / Self.alignment * Self.alignment }

    /// Whether records this mailbox has not applied yet exist (one acquiring load when idle).
    @inlinable
    public var hasWork: Bool { head.load() != tail.loadRelaxed() }
}

extension Mailbox {
    /// Appends one record of `recordSize` bytes that `fill` writes (it gets the record's start),
    /// and returns the mailbox position after it: once `tail` reaches that position the owner has
    /// applied it. Waits for room while the owner catches up; `whileWaiting` runs between checks
    /// (the caller applies its own inbox there, so two ranks filling each other's rings move on).
    /// nil when the wait timed out.
    public func append(recordSize: Int, _ policy: WaitPolicy, token: UInt64, whileWaiting: () -> Void,
                _ fill: (UnsafeMutableRawPointer) -> Void) -> UInt64? {
        precondition(recordSize % Mailbox.alignment == 0 && recordSize <= largestRecord, "record too large for the ring")
        // whileWaiting runs only after a failed check: a wait that succeeds at once does nothing else.
        func wait(_ condition: () -> Bool) -> Bool {
            waitUntil(policy) {
                if condition() { return true }
                whileWaiting()
                return false
            }
        }
        guard wait({ producerLock.tryLock(token: token) }) else { return nil }
        defer { producerLock.unlock() }
        let position = head.loadRelaxed()
        let offset = Int(position % UInt64(capacity))
        let pad = capacity - offset < recordSize ? capacity - offset : 0
        let needed = UInt64(pad + recordSize)
        // Wrapping: `tail` is region memory, and a foreign writer's value must not trap this process.
        guard wait({ (position &- tail.load()) <= UInt64(capacity) &- needed }) else {
            return nil
        }
        if pad > 0 {
            let padRecord = ring + offset
            padRecord.storeBytes(of: Self.padKind, toByteOffset: 0, as: UInt64.self)
            padRecord.storeBytes(of: UInt64(pad), toByteOffset: Self.sizeWord, as: UInt64.self)
        }
        fill(ring + (offset + pad) % capacity)
        let end = position &+ needed
        head.store(end)  // publishes the record
        return end
    }

    /// The record at the tail, checked against the ring: its start and size, or `.empty`. When the
    /// published bytes cannot hold a record there (only a foreign writer does that) the answer is
    /// `.corrupt` with the position to skip to: nothing before the head can be trusted any more.
    public func oldestRecord() -> OldestRecord {
        let position = tail.loadRelaxed()
        let published = head.load()
        guard published != position else { return .empty }
        let available = published &- position
        let offset = Int(position % UInt64(capacity))
        guard available <= UInt64(capacity), available % UInt64(Mailbox.alignment) == 0 else { return .corrupt(skipTo: published) }
        let record = ring + offset
        let size = record.load(fromByteOffset: Self.sizeWord, as: UInt64.self)
        guard size >= UInt64(Mailbox.alignment), size % UInt64(Mailbox.alignment) == 0, size <= available,
              size <= UInt64(capacity - offset) else { return .corrupt(skipTo: published) }
        return .record(record, size: Int(size), position: position)
    }

    public enum OldestRecord {
        case empty
        case record(UnsafeMutableRawPointer, size: Int, position: UInt64)
        case corrupt(skipTo: UInt64)
    }

    /// Where a fetch stands that this member appended to `target` (its record ends at `recordEnd`)
    /// and whose answer is reply `sequence` in this member's reply area. The target answers a record
    /// before its tail passes it, so a tail past the record with no answer means the target dropped
    /// it (it failed the target's checks): the origin must not wait for an answer that never comes.
    public func fetchState(sequence: UInt64, appendedTo target: Mailbox, recordEnd: UInt64) -> FetchState {
        if replies.load() >= sequence { return .answered }
        guard target.tail.load() >= recordEnd else { return .pending }
        return replies.load() >= sequence ? .answered : .dropped
    }

    public enum FetchState {
        case pending, answered, dropped
    }
}

/// `value` rounded up to a multiple of `alignment`.
@inlinable
public func roundUp(_ value: Int, to alignment: Int) -> Int { (value + alignment - 1) / alignment * alignment }
