import CMPI
import Glibc

/// Where an access lands in a target's window: byte ranges from the window's start, in the order
/// MPI packs the elements, which is the order the origin's packed data follows. A staged record
/// carries these ranges, because the target cannot decode the origin's datatype handles.
enum TargetLayout {
    case contiguous(Segment)
    case scattered([Segment])

    /// Scattered layouts are computed in a scratch image of the type's span; larger spans are refused.
    static let largestScatteredSpan = 8 << 20

    var count: Int {
        switch self {
        case .contiguous: 1
        case .scattered(let segments): segments.count
        }
    }

    subscript(index: Int) -> Segment {
        switch self {
        case .contiguous(let segment): segment
        case .scattered(let segments): segments[index]
        }
    }

    enum Failure: Error { case outOfRange, unsupported }

    /// The layout of `count` (> 0) elements of `type` at `displacement` in a window of `windowSize`
    /// bytes; `.outOfRange` when any byte falls outside the window.
    static func resolve(windowSize: Int, dispUnit: Int, displacement: MPI_Aint, count: Int, type: MPI_Datatype,
                        shape: TypeShape) -> Result<TargetLayout, Failure> {
        guard displacement >= 0, let span = shape.span(count: count) else { return .failure(.outOfRange) }
        let (start, overflow) = displacement.multipliedReportingOverflow(by: dispUnit)
        guard !overflow else { return .failure(.outOfRange) }
        let (lower, lowOverflow) = start.addingReportingOverflow(span.lower)
        let (upper, highOverflow) = start.addingReportingOverflow(span.upper)
        guard !lowOverflow, !highOverflow, lower >= 0, upper <= windowSize else { return .failure(.outOfRange) }
        if shape.contiguous { return .success(.contiguous(Segment(offset: start, length: count * shape.size))) }
        guard let runs = packedRuns(type, count, bytes: count * shape.size, span: span) else { return .failure(.unsupported) }
        return .success(.scattered(runs.map { Segment(offset: start + $0.offset, length: $0.length) }))
    }

    /// The byte runs of `count` elements of `type`, relative to element 0, in packing order.
    /// MPI offers no type map query, so the runs are read back from MPI_Unpack: unpacking a stream
    /// whose byte k holds byte `plane` of k, once per plane, writes each covered address's stream
    /// position into a scratch image of the span. Overlapping entries (legal for a get's source)
    /// cannot be told apart this way and are refused.
    private static func packedRuns(_ type: MPI_Datatype, _ count: Int, bytes: Int, span: (lower: Int, upper: Int)) -> [Segment]? {
        let extent = span.upper - span.lower
        guard bytes > 0, extent >= bytes, extent <= largestScatteredSpan else { return nil }
        let image = UnsafeMutablePointer<UInt8>.allocate(capacity: extent)
        let stream = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes)
        defer { image.deallocate(); stream.deallocate() }
        let elementZero = UnsafeMutableRawPointer(image) - span.lower

        func unpackStream(_ byte: (Int) -> UInt8) -> Bool {
            for k in 0..<bytes { stream[k] = byte(k) }
            memset(image, 0, extent)
            var position: MPI_Count = 0
            return PMPI_Unpack_c(stream, MPI_Count(bytes), &position, elementZero, MPI_Count(count), type, MPI_COMM_SELF) == MPI_SUCCESS
        }

        guard unpackStream({ _ in 0xFF }) else { return nil }
        let covered = (0..<extent).filter { image[$0] == 0xFF }
        guard covered.count == bytes else { return nil }
        var positions = [Int](repeating: 0, count: covered.count)
        var plane = 0
        while plane == 0 || (bytes - 1) >> (8 * plane) != 0 {
            let shift = 8 * plane
            guard unpackStream({ UInt8(truncatingIfNeeded: $0 >> shift) }) else { return nil }
            for (index, address) in covered.enumerated() { positions[index] |= Int(image[address]) << shift }
            plane += 1
        }
        var addressAt = [Int](repeating: -1, count: bytes)
        for (index, address) in covered.enumerated() {
            let position = positions[index]
            guard position < bytes, addressAt[position] < 0 else { return nil }
            addressAt[position] = address + span.lower
        }
        var runs: [Segment] = []
        for address in addressAt {
            if let last = runs.last, last.offset + last.length == address {
                runs[runs.count - 1].length += 1
            } else {
                runs.append(Segment(offset: address, length: 1))
            }
        }
        return runs
    }
}

/// Walks a layout in chunks that fit one record: at most `maxSegments` ranges and `limit` bytes,
/// splitting ranges where needed. Every chunk holds whole elements, as the target's parser requires
/// (`limit` is a multiple of the element size): an element of a pair type with padding
/// (MPI_SHORT_INT) spans two ranges, and the target combines such a chunk as packed elements.
struct LayoutChunker {
    let layout: TargetLayout
    private var index = 0
    private var consumed = 0
    private var packedOffset = 0

    init(_ layout: TargetLayout) { self.layout = layout }

    var isDone: Bool { index == layout.count }

    /// The next chunk's ranges, written to `out` (room for `maxSegments`): how many, their bytes, and
    /// where the chunk starts in the packed data.
    mutating func next(limit: Int, elementSize: Int, maxSegments: Int, into out: UnsafeMutablePointer<Segment>)
        -> (segments: Int, bytes: Int, packedStart: Int) {
        let start = (index, consumed)
        var (segments, bytes) = fill(limit: limit, maxSegments: maxSegments, into: out)
        let partial = bytes % elementSize
        if partial != 0, bytes > partial {
            // The ranges ran out inside an element: end the chunk at the element before it.
            (index, consumed) = start
            (segments, bytes) = fill(limit: bytes - partial, maxSegments: maxSegments, into: out)
        }
        let packedStart = packedOffset
        packedOffset += bytes
        return (segments, bytes, packedStart)
    }

    private mutating func fill(limit: Int, maxSegments: Int, into out: UnsafeMutablePointer<Segment>) -> (Int, Int) {
        var segments = 0, bytes = 0
        while index < layout.count, segments < maxSegments, bytes < limit {
            let segment = layout[index]
            let take = min(segment.length - consumed, limit - bytes)
            out[segments] = Segment(offset: segment.offset + consumed, length: take)
            segments += 1
            bytes += take
            consumed += take
            if consumed == segment.length { index += 1; consumed = 0 }
        }
        return (segments, bytes)
    }
}
