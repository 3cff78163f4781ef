// libFuzzer entry point: each input becomes the metadata of a mapped region, and every reader of
// untrusted region bytes runs over it: validation, inspection, the job directory, the block table,
// the allocator, reclaim and reset. A crash, an out-of-bounds access (ASan) or a block handed out
// outside the data area fails the run.
//
// Input: byte 0 picks the mode, the rest are region bytes.
//   even: the bytes are the region from offset 0 (headers as found in the wild; the checksum
//         makes a valid one rare, so the corpus holds some)
//   odd:  the region is formatted first and the bytes overwrite it from offset 128 on (the
//         allocator lock, its holder, the job directory and the block table behind a valid header)
// A kernel word of 1 (job slot owners, the lock holder) becomes this kernel's, so that liveness
// checks on arbitrary pids and start times, reclaim and lock takeover run too.
import Glibc
import Region
import SharedSync

/// Metadata plus eight data pages.
let regionSize = Region.minimumSize + 7 * 4096
let formattedFrom = 128
let quick = WaitPolicy(spinProbes: 4, maxSleepNanoseconds: 1_000, timeoutSeconds: 0.001)

/// One mapping for every input: a file unlinked once mapped.
let mapping: RegionMapping = {
    var template = Array("/tmp/ivshmem-rma-fuzz.XXXXXX".utf8CString)
    let descriptor = mkstemp(&template)
    precondition(descriptor >= 0, "cannot create the fuzz region file")
    close(descriptor)
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { unlink(path) }
    do {
        return try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: regionSize)
    } catch {
        fatalError("cannot map the fuzz region: \(error)")
    }
}()

/// A word of the input, for sizes and job IDs.
func word(_ input: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { value, byte in
        let position = index * 8 + byte
        return value << 8 | UInt64(position < input.count ? input[input.count - 1 - position] : 0)
    }
}

func load(_ input: UnsafeBufferPointer<UInt8>) {
    let base = mapping.base
    base.initializeMemory(as: UInt8.self, repeating: 0, count: Region.minimumSize)
    let bytes = UnsafeBufferPointer(rebasing: input.dropFirst())
    if input[0] & 1 == 1 {
        _ = try? Region.attach(mapping, wait: quick)  // formats the zeroed metadata
        let count = min(bytes.count, Region.minimumSize - 4096 - formattedFrom)
        (base + formattedFrom).copyMemory(from: bytes.baseAddress!, byteCount: count)
    } else if let start = bytes.baseAddress {
        base.copyMemory(from: start, byteCount: min(bytes.count, Region.minimumSize - 4096))
    }
}

/// Job slot owner kernels (4096 + 64 i + 32) and the lock holder's (200).
let kernelWords = [200] + (0..<Region.jobSlotCount).map { 4096 + 64 * $0 + 32 }

func claimForThisKernel() {
    for offset in kernelWords where mapping.base.load(fromByteOffset: offset, as: UInt64.self) == 1 {
        mapping.base.storeBytes(of: ProcessIdentity.currentKernel, toByteOffset: offset, as: UInt64.self)
    }
}

func exercise(_ input: UnsafeBufferPointer<UInt8>) {
    let report = Region.inspect(mapping)
    guard let region = try? Region.open(mapping) else {
        precondition(!report.valid, "inspect found valid what open refuses")
        _ = try? Region.attach(mapping, wait: quick)
        return
    }
    precondition(report.valid)
    for index in -1...Region.jobSlotCount { _ = region.jobSlot(index) }
    _ = region.allocatorLockHolder
    _ = region.usage()
    let job = word(input, 0)
    if let block = try? region.allocate(bytes: Int(word(input, 1) % UInt64(regionSize)), jobID: job, wait: quick) {
        precondition(block.offset >= report.dataOffset && block.size > 0 && block.size <= report.dataOffset + report.dataSize - block.offset,
                     "allocated \(block) outside the data area [\(report.dataOffset), \(report.dataOffset + report.dataSize))")
        precondition(region.address(offset: block.offset, length: block.size) != nil)
        region.free(block, jobID: job, wait: quick)
    }
    _ = try? region.reclaimGoneJobs(named: [job, word(input, 2)], wait: quick)
    if let slot = try? region.claimJobSlot(jobID: job, nonce: 1) {
        region.releaseJobSlot(slot, jobID: job)
    }
    region.freeAll(jobID: word(input, 3), wait: quick)
    _ = try? Region.reset(mapping, force: input.count % 2 == 0, wait: quick)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let data, count > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: count)
    load(input)
    claimForThisKernel()
    exercise(input)
    return 0
}
