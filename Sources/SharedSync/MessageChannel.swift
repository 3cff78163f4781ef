/// A single-producer single-consumer ring of records in shared memory: one per ordered pair of
/// processes, so a send takes no lock any other pair touches. The producer writes a record, then
/// publishes it with one release store of `head`; the consumer reads records up to `head` and
/// gives their bytes back with a release store of `tail`.
///
/// Block layout (little-endian words, every offset a multiple of 64):
///
///     0     UInt64 head: bytes ever written (producer)
///     64    UInt64 tail: bytes ever consumed (consumer)
///     128   the ring: `capacity` bytes of records
///
/// A record is a 48-byte header (UInt32 kind, UInt32 payload bytes, 40 bytes the caller's), then
/// its payload, padded to 64 bytes; it never wraps: a record that does not fit before the end of
/// the ring is preceded by a padding record to the end. The consumer treats the block as
/// untrusted: positions and lengths are checked before any byte is used (`Consumer.next`).
public enum MessageChannel {
    public static let headerBytes = 48
    public static let envelopeOffset = 8
    public static let envelopeBytes = headerBytes - envelopeOffset
    static let alignment = 64
    static let headOffset = 0
    static let tailOffset = 64
    static let ringOffset = 128
    static let paddingKind = UInt32.max

    /// Bytes of a block whose ring holds `capacity` bytes (a multiple of 64).
    public static func blockBytes(capacity: Int) -> Int { ringOffset + capacity }

    /// The largest payload one record may carry in a ring of `capacity` bytes: a quarter of it, so
    /// the producer writes the next record while the consumer reads the last.
    public static func largestPayload(capacity: Int) -> Int { capacity / 4 - headerBytes }

    /// Zeroes a block's positions before either side uses it.
    public static func prepare(_ block: UnsafeMutableRawPointer) {
        SharedWord(at: block + headOffset).store(0)
        SharedWord(at: block + tailOffset).store(0)
    }

    @inline(__always)
    static func recordBytes(payload: Int) -> Int { (headerBytes + payload + alignment - 1) & ~(alignment - 1) }

    /// The writing side, private to one process.
    public struct Producer {
        let block: UnsafeMutableRawPointer
        public let capacity: Int
        var head: UInt64 = 0
        var knownTail: UInt64 = 0
        /// The reserved record's start (0 when none is reserved).
        var reserved: UInt64 = 0

        public init(block: UnsafeMutableRawPointer, capacity: Int) {
            self.block = block
            self.capacity = capacity
        }

        /// Room for a record of `payload` bytes (at most `largestPayload`): the record's header,
        /// whose envelope the caller fills, and after it the payload; nil while the ring is full.
        @inline(__always)
        public mutating func reserve(payload: Int) -> UnsafeMutableRawPointer? {
            let need = recordBytes(payload: payload)
            let position = Int(head % UInt64(capacity))
            let padding = position + need > capacity ? capacity - position : 0
            let wanted = UInt64(padding + need)
            if UInt64(capacity) - (head &- knownTail) < wanted {
                // A tail ahead of head, or more than a ring behind, is a consumer gone wrong:
                // treat the ring as full, and keep the last sane tail.
                let tail = SharedWord(at: block + tailOffset).load()
                guard tail <= head, head - tail <= UInt64(capacity) else { return nil }
                knownTail = tail
                guard UInt64(capacity) - (head - tail) >= wanted else { return nil }
            }
            let ring = block + ringOffset
            if padding > 0 {
                ring.storeBytes(of: paddingKind, toByteOffset: position, as: UInt32.self)
                head &+= UInt64(padding)
            }
            reserved = head
            return ring + Int(head % UInt64(capacity))
        }

        /// Publishes the reserved record as `kind` (not `UInt32.max`) with `payload` bytes.
        @inline(__always)
        public mutating func publish(kind: UInt32, payload: Int) {
            let record = block + ringOffset + Int(reserved % UInt64(capacity))
            record.storeBytes(of: kind, as: UInt32.self)
            record.storeBytes(of: UInt32(payload), toByteOffset: 4, as: UInt32.self)
            head = reserved &+ UInt64(recordBytes(payload: payload))
            SharedWord(at: block + headOffset).store(head)
        }
    }

    /// One record as the consumer sees it: kind and payload length checked to lie inside the ring.
    public struct Record {
        public let kind: UInt32
        public let payloadBytes: Int
        /// The header's 40 caller bytes, in the ring: copy them out before trusting any field.
        public let envelope: UnsafeRawPointer
        public let payload: UnsafeRawPointer
    }

    public enum ReadError: Error, Equatable {
        /// The positions or a record's length cannot be what a producer wrote.
        case corrupt(String)
    }

    /// The reading side, private to one process.
    public struct Consumer {
        let block: UnsafeMutableRawPointer
        public let capacity: Int
        var tail: UInt64 = 0
        var knownHead: UInt64 = 0

        public init(block: UnsafeMutableRawPointer, capacity: Int) {
            self.block = block
            self.capacity = capacity
        }

        /// Whether a record may be waiting: one load of the producer's position.
        @inline(__always)
        public mutating func hasRecords() -> Bool {
            if knownHead != tail { return true }
            knownHead = SharedWord(at: block + headOffset).load()
            return knownHead != tail
        }

        /// The oldest unread record, nil when there is none; the record stays until `release`.
        @inline(__always)
        public mutating func next() throws(ReadError) -> Record? {
            while hasRecords() {
                guard knownHead &- tail <= UInt64(capacity), knownHead > tail else {
                    throw .corrupt("positions \(tail)..\(knownHead) in a ring of \(capacity) bytes")
                }
                let position = Int(tail % UInt64(capacity))
                let record = UnsafeRawPointer(block + ringOffset + position)
                let kind = record.loadUnaligned(as: UInt32.self)
                if kind == paddingKind {
                    tail &+= UInt64(capacity - position)
                    continue
                }
                let payload = Int(record.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                let bytes = recordBytes(payload: payload)
                guard payload <= largestPayload(capacity: capacity), position + bytes <= capacity,
                      UInt64(bytes) <= knownHead &- tail else {
                    throw .corrupt("a record of \(payload) bytes at \(position) in a ring of \(capacity) bytes")
                }
                return Record(kind: kind, payloadBytes: payload, envelope: record + envelopeOffset, payload: record + headerBytes)
            }
            return nil
        }

        /// Gives the record `next` returned back to the producer.
        @inline(__always)
        public mutating func release(_ record: Record) {
            tail &+= UInt64(recordBytes(payload: record.payloadBytes))
            SharedWord(at: block + tailOffset).store(tail)
        }
    }
}
