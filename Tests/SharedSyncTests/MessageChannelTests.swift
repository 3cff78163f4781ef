import Foundation
import SharedSync
import Testing

/// One channel block in memory of its own: exactly `blockBytes(capacity:)` bytes, ending flush
/// against an inaccessible page, so a read even one byte past the ring's end stops the test with
/// SIGSEGV instead of passing unnoticed. The block starts filled with 0xA5 (what a reused region
/// might hold) and is then prepared.
private final class ChannelBlock {
    let capacity: Int
    let base: UnsafeMutableRawPointer
    private let mapping: UnsafeMutableRawPointer
    private let mappingBytes: Int

    init(capacity: Int) {
        self.capacity = capacity
        let bytes = MessageChannel.blockBytes(capacity: capacity), page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let accessible = (bytes + page - 1) / page * page
        mappingBytes = accessible + page
        guard let mapped = mmap(nil, mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1),
              mprotect(mapped + accessible, page, PROT_NONE) == 0 else { fatalError("cannot map a channel block: errno \(errno)") }
        mapping = mapped
        base = mapped + accessible - bytes
        base.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
        MessageChannel.prepare(base)
    }

    deinit { munmap(mapping, mappingBytes) }

    var producer: MessageChannel.Producer { MessageChannel.Producer(block: base, capacity: capacity) }
    var consumer: MessageChannel.Consumer { MessageChannel.Consumer(block: base, capacity: capacity) }
    /// The positions as stored in the block (layout: head at 0, tail at 64, the ring at 128).
    var head: SharedWord { SharedWord(at: base) }
    var tail: SharedWord { SharedWord(at: base + 64) }
    var ring: UnsafeMutableRawPointer { base + 128 }

    /// Where `record`'s header starts in the ring; nil (and an issue) unless the whole record,
    /// header and payload, lies inside the ring.
    func offset(of record: MessageChannel.Record, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
        let start = UnsafeRawPointer(ring).distance(to: record.envelope) - MessageChannel.envelopeOffset
        guard start >= 0, record.payloadBytes >= 0, start + MessageChannel.headerBytes + record.payloadBytes <= capacity,
              record.envelope + MessageChannel.envelopeBytes == record.payload else {
            Issue.record("a record of \(record.payloadBytes) bytes at \(start), envelope \(record.envelope), payload \(record.payload) is not inside a ring of \(capacity) bytes",
                         sourceLocation: sourceLocation)
            return nil
        }
        return start
    }

    /// Writes a record header straight into the ring, as a faulty or hostile producer might.
    func writeHeader(at offset: Int, kind: UInt32, payload: UInt32) {
        ring.storeBytes(of: kind, toByteOffset: offset, as: UInt32.self)
        ring.storeBytes(of: payload, toByteOffset: offset + 4, as: UInt32.self)
    }
}

/// The ring bytes a record of `payload` bytes takes: its 48-byte header and payload, padded to 64.
private func recordBytes(payload: Int) -> Int { (MessageChannel.headerBytes + payload + 63) / 64 * 64 }

/// What the producer sent as record `sequence`; its envelope and payload bytes follow from the sequence.
private struct Sent {
    var sequence: Int
    var kind: UInt32
    var payloadBytes: Int

    var envelope: [UInt8] { (0..<MessageChannel.envelopeBytes).map { UInt8(truncatingIfNeeded: sequence &* 29 &+ $0 &+ 1) } }
    var payload: [UInt8] { (0..<payloadBytes).map { UInt8(truncatingIfNeeded: sequence &* 131 &+ $0 &* 7 &+ $0 >> 8) } }
}

/// Reserves, fills and publishes `record`; false (nothing written) when the ring is full.
private func send(_ producer: inout MessageChannel.Producer, _ record: Sent) -> Bool {
    guard let start = producer.reserve(payload: record.payloadBytes) else { return false }
    record.envelope.withUnsafeBytes { (start + MessageChannel.envelopeOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    record.payload.withUnsafeBytes { bytes in
        if let source = bytes.baseAddress { (start + MessageChannel.headerBytes).copyMemory(from: source, byteCount: bytes.count) }
    }
    producer.publish(kind: record.kind, payload: record.payloadBytes)
    return true
}

/// Whether `record` is `expected`: kind, length, the 40 envelope bytes and the payload bytes, all
/// inside the ring. Records an issue for each difference.
@discardableResult
private func expectRecord(_ record: MessageChannel.Record?, _ expected: Sent, in block: ChannelBlock,
                          sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard let record else {
        Issue.record("record \(expected.sequence) is missing", sourceLocation: sourceLocation)
        return false
    }
    guard block.offset(of: record, sourceLocation: sourceLocation) != nil else { return false }
    let envelope = [UInt8](UnsafeRawBufferPointer(start: record.envelope, count: MessageChannel.envelopeBytes))
    let payload = [UInt8](UnsafeRawBufferPointer(start: record.payload, count: record.payloadBytes))
    let matches = (record.kind, record.payloadBytes, envelope, payload) == (expected.kind, expected.payloadBytes, expected.envelope, expected.payload)
    #expect(record.kind == expected.kind, "record \(expected.sequence)'s kind", sourceLocation: sourceLocation)
    #expect(record.payloadBytes == expected.payloadBytes, "record \(expected.sequence)'s payload length", sourceLocation: sourceLocation)
    #expect(envelope == expected.envelope, "record \(expected.sequence)'s envelope", sourceLocation: sourceLocation)
    #expect(payload == expected.payload, "record \(expected.sequence)'s payload", sourceLocation: sourceLocation)
    return matches
}

/// A small deterministic generator (SplitMix64), so a failing run can be repeated.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The ways a block may lie to its consumer (capacity 1024, so records carry at most 208 bytes).
enum ChannelCorruption: String, CaseIterable, CustomTestStringConvertible {
    case headBehindTail = "head behind tail"
    case headTooFarAhead = "head more than the capacity ahead of tail"
    case payloadOverLargest = "a payload one byte over largestPayload"
    case hugePayload = "a payload of UInt32.max - 1 bytes"
    case recordPastRingEnd = "a record running past the ring's end"
    case recordPastHead = "a record longer than what head publishes"
    case paddingPastHead = "a padding record reaching past head"

    var testDescription: String { rawValue }
}

@Suite("MessageChannel: a single-producer single-consumer ring of records")
struct MessageChannelTests {
    @Test("records of every size come back in order, kind, envelope and payload intact")
    func recordsOfManySizes() throws {
        let block = ChannelBlock(capacity: 4096)
        var producer = block.producer, consumer = block.consumer
        let largest = MessageChannel.largestPayload(capacity: 4096)
        #expect(largest == 976)
        let sizes = [0, 1, 8, 40, 100, largest], kinds: [UInt32] = [0, 1, 7, 42, UInt32.max - 1, 3]
        let records = sizes.indices.map { Sent(sequence: $0, kind: kinds[$0], payloadBytes: sizes[$0]) }

        // A reserved record is invisible until published.
        let reserved = producer.reserve(payload: 8)
        let first = try #require(reserved)
        #expect(first == block.ring, "the first record starts the ring")
        #expect(consumer.hasRecords() == false)
        #expect(try consumer.next() == nil)

        // That reservation abandoned (a fresh producer starts over): all six in the ring at once
        // (1536 of 4096 bytes), then read back.
        producer = block.producer
        for record in records { #expect(send(&producer, record), "record \(record.sequence) fits") }
        #expect(block.head.load() == UInt64(sizes.map(recordBytes).reduce(0, +)), "head counts every record's padded bytes")
        for expected in records {
            #expect(consumer.hasRecords() == true)
            let record = try consumer.next()
            guard expectRecord(record, expected, in: block), let record else { return }
            #expect(try consumer.next()?.envelope == record.envelope, "a record stays the oldest until released")
            consumer.release(record)
        }
        #expect(try consumer.next() == nil)
        #expect(consumer.hasRecords() == false)
        #expect(block.tail.load() == block.head.load(), "every byte given back")

        // And one at a time, each read before the next is written.
        for (index, size) in sizes.enumerated() {
            let sent = Sent(sequence: 100 + index, kind: kinds[index], payloadBytes: size)
            #expect(send(&producer, sent))
            let record = try consumer.next()
            guard expectRecord(record, sent, in: block), let record else { return }
            consumer.release(record)
            #expect(try consumer.next() == nil)
        }
    }

    @Test("thousands of records through a 1 KiB ring: none crosses its end, the padding before a wrapped one is skipped, none is lost or reordered")
    func wrapsAround() throws {
        let capacity = 1024, total = 20_000
        let block = ChannelBlock(capacity: capacity)
        let largest = MessageChannel.largestPayload(capacity: capacity)
        var producer = block.producer, consumer = block.consumer
        var generator = SplitMix64(state: 0x5EED)
        var sent: [Sent] = []
        var received = 0, fullRings = 0, paddedWraps = 0, exactWraps = 0
        var end = 0  // where the last record read ends in the ring
        for _ in 0..<4 * total where received < total {
            // A burst of 1 to 6 records, up to a full ring.
            for _ in 0..<Int.random(in: 1...6, using: &generator) where sent.count < total {
                let bytes = Bool.random(using: &generator) ? Int.random(in: 0...largest, using: &generator)
                    : Int.random(in: largest - 24...largest, using: &generator)
                let record = Sent(sequence: sent.count, kind: UInt32(sent.count % 5), payloadBytes: bytes)
                guard send(&producer, record) else {
                    fullRings += 1
                    break
                }
                sent.append(record)
            }
            // Then 1 to 6 read, up to an empty ring.
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                guard let record = try consumer.next() else {
                    guard received == sent.count else {
                        Issue.record("\(sent.count - received) records published but not seen")
                        return
                    }
                    break
                }
                guard expectRecord(record, sent[received], in: block), let start = block.offset(of: record) else { return }
                // Records follow one another; one that would cross the end starts the ring instead.
                let wanted = end + recordBytes(payload: record.payloadBytes) <= capacity ? end : 0
                guard start == wanted else {
                    Issue.record("record \(received) starts at \(start), not \(wanted) (the previous one ends at \(end))")
                    return
                }
                if start == 0 && received > 0 {
                    if end == capacity { exactWraps += 1 } else { paddedWraps += 1 }
                }
                end = start + recordBytes(payload: record.payloadBytes)
                consumer.release(record)
                received += 1
            }
        }
        #expect(received == total)
        #expect(try consumer.next() == nil)
        #expect(consumer.hasRecords() == false)
        #expect(block.head.load() == block.tail.load())
        #expect(fullRings > 100, "the producer met a full ring")
        #expect(paddedWraps > 100, "records followed padding to the ring's end")
        #expect(exactWraps > 10, "records ended exactly at the ring's end, and the next started it without padding")
    }

    @Test("a full ring refuses a reservation until the consumer releases room, padding included")
    func fullRing() throws {
        let capacity = 1024
        let block = ChannelBlock(capacity: capacity)
        var producer = block.producer, consumer = block.consumer
        #expect(consumer.hasRecords() == false, "a prepared ring is empty")
        #expect(try consumer.next() == nil)

        // Sixteen 64-byte records fill it.
        for sequence in 0..<16 { #expect(send(&producer, Sent(sequence: sequence, kind: 1, payloadBytes: 16))) }
        #expect(producer.reserve(payload: 0) == nil, "no room left")
        #expect(producer.reserve(payload: 0) == nil, "still none")
        #expect(consumer.hasRecords() == true)
        var record = try consumer.next()
        expectRecord(record, Sent(sequence: 0, kind: 1, payloadBytes: 16), in: block)
        #expect(producer.reserve(payload: 0) == nil, "a record read but not released keeps its room")
        consumer.release(try #require(record))
        #expect(producer.reserve(payload: 17) == nil, "a 128-byte record does not fit in the 64 bytes given back")
        #expect(send(&producer, Sent(sequence: 16, kind: 2, payloadBytes: 16)), "a 64-byte one does")
        #expect(producer.reserve(payload: 0) == nil, "full again")
        for sequence in 1...16 {
            record = try consumer.next()
            guard expectRecord(record, Sent(sequence: sequence, kind: sequence == 16 ? 2 : 1, payloadBytes: 16), in: block),
                  let record else { return }
            consumer.release(record)
        }
        #expect(try consumer.next() == nil)
        #expect(consumer.hasRecords() == false)

        // A fresh ring: seven 128-byte records leave 128 bytes at its end, too few for a 256-byte
        // record, which must start the ring after 128 bytes of padding: 384 bytes in all.
        let padded = ChannelBlock(capacity: capacity)
        producer = padded.producer
        consumer = padded.consumer
        for sequence in 0..<7 { #expect(send(&producer, Sent(sequence: sequence, kind: 3, payloadBytes: 80))) }
        let wrapped = Sent(sequence: 7, kind: 4, payloadBytes: MessageChannel.largestPayload(capacity: capacity))
        #expect(recordBytes(payload: wrapped.payloadBytes) == 256)
        #expect(producer.reserve(payload: wrapped.payloadBytes) == nil, "128 bytes free")
        for sequence in 0..<2 {
            record = try consumer.next()
            expectRecord(record, Sent(sequence: sequence, kind: 3, payloadBytes: 80), in: padded)
            consumer.release(try #require(record))
            if sequence == 0 {
                #expect(producer.reserve(payload: wrapped.payloadBytes) == nil, "256 bytes free: the padding counts too")
            }
        }
        #expect(send(&producer, wrapped), "384 bytes free: the padding and the record fit exactly")
        #expect(producer.reserve(payload: 0) == nil, "full again")
        for sequence in 2..<7 {
            record = try consumer.next()
            guard expectRecord(record, Sent(sequence: sequence, kind: 3, payloadBytes: 80), in: padded), let record else { return }
            consumer.release(record)
        }
        record = try consumer.next()
        guard expectRecord(record, wrapped, in: padded), let record else { return }
        #expect(padded.offset(of: record) == 0, "the wrapped record starts the ring, its padding skipped")
        consumer.release(record)
        #expect(try consumer.next() == nil)
        #expect(padded.tail.load() == padded.head.load())
    }

    @Test("a corrupt block is detected, not trusted", arguments: ChannelCorruption.allCases)
    func corruptBlock(_ corruption: ChannelCorruption) throws {
        let capacity = 1024
        let block = ChannelBlock(capacity: capacity)
        var producer = block.producer, consumer = block.consumer
        let largest = MessageChannel.largestPayload(capacity: capacity)
        #expect(largest == 208)
        /// Sends and consumes `count` 64-byte records, leaving both positions at 64 * count.
        func advance(_ count: Int) throws {
            for sequence in 0..<count {
                let sent = Sent(sequence: sequence, kind: 1, payloadBytes: 16)
                #expect(send(&producer, sent))
                let record = try consumer.next()
                expectRecord(record, sent, in: block)
                if let record { consumer.release(record) }
            }
        }
        // Each case sets up exactly one impossible thing: every other check would pass.
        switch corruption {
        case .headBehindTail:
            try advance(2)
            block.writeHeader(at: 128, kind: 1, payload: 16)  // a plausible record at the tail
            block.head.store(64)
        case .headTooFarAhead:
            #expect(send(&producer, Sent(sequence: 0, kind: 1, payloadBytes: 16)))
            block.head.store(UInt64(capacity + 64))
        case .payloadOverLargest:
            block.writeHeader(at: 0, kind: 1, payload: UInt32(largest + 1))
            block.head.store(UInt64(recordBytes(payload: largest + 1)))
        case .hugePayload:
            block.writeHeader(at: 0, kind: 1, payload: UInt32.max - 1)
            block.head.store(UInt64(capacity))
        case .recordPastRingEnd:
            try advance(15)  // the consumer at the last 64 bytes of the ring
            block.writeHeader(at: capacity - 64, kind: 1, payload: 100)  // 192 bytes
            block.head.store(UInt64(capacity - 64 + recordBytes(payload: 100)))
        case .recordPastHead:
            block.writeHeader(at: 0, kind: 1, payload: 100)  // 192 bytes
            block.head.store(64)
        case .paddingPastHead:
            block.writeHeader(at: 0, kind: UInt32.max, payload: 0)  // padding from 0 to the end
            block.head.store(64)
        }
        let tail = block.tail.load()
        for attempt in ["first", "second"] {
            do {
                if let record = try consumer.next() {
                    Issue.record("\(attempt) read: accepted a record of kind \(record.kind) and \(record.payloadBytes) bytes")
                } else {
                    Issue.record("\(attempt) read: reported an empty ring")
                }
            } catch {
                switch error {
                case .corrupt(let reason): #expect(!reason.isEmpty, "says what is wrong")
                }
            }
        }
        #expect(block.tail.load() == tail, "nothing given back to the producer")
    }

    @Test("a tail ahead of head, or more than the capacity behind it, reads as a full ring until it is sane again")
    func insaneTail() {
        let block = ChannelBlock(capacity: 1024)
        var producer = block.producer, consumer = block.consumer
        for sequence in 0..<40 {  // head and tail at 2560
            #expect(send(&producer, Sent(sequence: sequence, kind: 1, payloadBytes: 16)))
            if let record = try? consumer.next() { consumer.release(record) }
        }
        for sequence in 40..<56 { #expect(send(&producer, Sent(sequence: sequence, kind: 1, payloadBytes: 16))) }
        let head = block.head.load()
        #expect(head == 56 * 64)
        // A stale tail or a peer preparing the block again; then a consumer gone wrong.
        for tail in [0, head + 64] {
            block.tail.store(tail)
            #expect(producer.reserve(payload: 16) == nil, "tail \(tail), head \(head)")
            #expect(producer.reserve(payload: 16) == nil, "still tail \(tail)")
        }
        block.tail.store(head)
        #expect(producer.reserve(payload: 16) != nil, "room again once the tail is sane")
    }

    @Test("a producer process and a consumer process pass 100000 checksummed records through a 64 KiB ring")
    func acrossProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("channel"), capacity = 64 << 10, records = 100_000
        // Zeroed: a prepared block. SyncProbe documents the records' contents.
        createZeroFile(file, size: MessageChannel.blockBytes(capacity: capacity))
        let runs = SyncProbe.run([["channel-send", file, "\(capacity)", "\(records)"],
                                  ["channel-receive", file, "\(capacity)", "\(records)"]], in: directory)
        guard runs.count == 2, runs[1].succeeded else { return }
        let largest = MessageChannel.largestPayload(capacity: capacity)
        let payloadBytes = (0..<records).reduce(0) { $0 + ($1 % 100 == 99 ? largest - ($1 / 100) % 64 : $1 * 37 % 301) }
        let words = fileBytes(file).withUnsafeBytes { bytes in (head: bytes.load(as: UInt64.self), tail: bytes.load(fromByteOffset: 64, as: UInt64.self)) }
        let line = try #require(runs[1].lines.first)
        let prefix = "received \(records) records, \(payloadBytes) payload bytes, "
        #expect(line.hasPrefix(prefix), "the consumer reported \(line)")
        let wraps = line.hasPrefix(prefix) ? Int(line.dropFirst(prefix.count).prefix { $0.isNumber }) ?? 0 : 0
        #expect(wraps > 100, "the ring wrapped")
        #expect(words.head == words.tail, "every record consumed")
        let recordBytesSent = (0..<records).reduce(0) { $0 + recordBytes(payload: $1 % 100 == 99 ? largest - ($1 / 100) % 64 : $1 * 37 % 301) }
        #expect(words.head >= UInt64(recordBytesSent), "head counts every record, and padding")
    }
}
