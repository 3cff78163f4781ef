import SharedSync

/// The one door to region memory: every other file names region memory by byte offset, and only
/// this type turns an offset into an address, after checking it lies inside the mapping.
/// Word accesses are atomic, because other processes, jobs and guests write the same bytes.
/// It holds the mapping, so memory it hands out stays mapped while it exists.
struct RegionBytes {
    let mapping: RegionMapping
    var base: UnsafeMutableRawPointer { mapping.base }
    var size: Int { mapping.size }

    /// The 8-byte aligned word at `offset`. Offsets come from the layout, never from region
    /// contents, so one outside the mapping is a bug in this library and stops the process.
    func word(at offset: Int) -> SharedWord {
        SharedWord(at: wordAddress(offset))
    }

    /// The spin lock whose word is at `offset` (checked like `word(at:)`).
    func spinLock(at offset: Int) -> SharedSpinLock {
        SharedSpinLock(at: wordAddress(offset))
    }

    func load(_ offset: Int) -> UInt64 { word(at: offset).load() }

    func store(_ value: UInt64, at offset: Int) { word(at: offset).store(value) }

    /// Whether every byte of `range` (word aligned, inside the mapping) is zero.
    func isAllZero(_ range: Range<Int>) -> Bool {
        stride(from: range.lowerBound, to: range.upperBound, by: 8).allSatisfy { load($0) == 0 }
    }

    /// The address of [offset, offset + length), or nil when any part of it is outside the mapping.
    /// Safe for any pair of integers: nothing here can overflow.
    func address(offset: Int, length: Int) -> UnsafeMutableRawPointer? {
        guard offset >= 0, length >= 0, offset <= size, length <= size - offset else { return nil }
        return base + offset
    }

    private func wordAddress(_ offset: Int) -> UnsafeMutableRawPointer {
        precondition(offset >= 0 && offset % 8 == 0 && offset <= size - 8,
                     "region word offset \(offset) is outside the \(size)-byte mapping or unaligned")
        return base + offset
    }
}
