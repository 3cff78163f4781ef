// The byte layout of a region, layout version 1.
//
// Every field is a little-endian UInt64 at an 8-byte aligned offset, read and written only as an
// atomic word (other guests and jobs write the same memory; nothing read back is trusted).
// A fresh region is all zero bytes, which is what QEMU gives a guest and what ftruncate gives a file.
//
// Metadata area, [0, 24576): six pages, all zero before formatting.
//
//   Header, page 0 [0, 4096):
//     0    state           0 fresh | "FMT-BUSY" someone is formatting | "FMT-DONE" ready (ASCII words)
//     8    magic           "IVRMAREG" (bytes 49 56 52 4d 41 52 45 47, the word 0x474552414d525649)
//     16   layout version  1
//     24   region size     bytes, as mapped by the formatter
//     32   identity high   random, chosen by the formatter
//     40   identity low    random, chosen by the formatter
//     48   job directory offset   4096
//     56   job slot count         64
//     64   job slot size          64
//     72   block table offset     8192
//     80   block record count     512
//     88   block record size      32
//     96   data offset            24576
//     104  data size              (region size - 24576) rounded down to 4096
//     112  checksum        FNV-1a 64 over the bytes [8, 112): every field above but the state
//     128  allocator lock  SharedSpinLock word: 0 free, else the holder's token (own cache line)
//     192  allocator lock holder (own cache line), so a lock left by a dead process can be taken over:
//          200 kernel word, 208 pid, 216 start time of the last holder (as job slot 32..48), written
//          right after taking the lock, then 192 its token, which publishes them; the token alone
//          is cleared before the lock is released. The holder is known while 192 equals the lock word.
//     1024 doorbell sleepers area, [1024, 2048) (Region.doorbellArea; SharedSync's Doorbell):
//          1024  number of peers asleep on their doorbell (the wake-up fast path loads only this)
//          1088  bitmap of the sleeping ivshmem-server peer IDs 0..7679, bit i of word 1088 + 8 k = peer 64 k + i
//     the rest of page 0 is reserved, zero
//
//   Job directory, page 1 [4096, 8192): 64 slots of 64 bytes, slot i at 4096 + 64 i:
//     0    state           0 free | 1 claiming | 2 claimed | 3 releasing
//     8    job ID
//     16   nonce           chosen by the job, tells two runs of one job ID apart
//     24   claim time      CLOCK_REALTIME seconds, for tools that look for stale slots
//     32   owner kernel    the claiming leader's kernel word: FNV-1a 64 of its boot id
//                          (/proc/sys/kernel/random/boot_id) and PID namespace; 0 = not recorded
//     40   owner pid       the leader's pid in that namespace
//     48   owner start     the leader's start time, clock ticks after boot (/proc/PID/stat field 22)
//     56   reserved, zero
//   Slots claimed by a library that did not record an owner read as owner 0 ("unrecorded"): the
//   owner fields only add information, so the layout version stays 1. A job whose owner ran on
//   this kernel and is gone is dead: the next leader's claim and `ivshmem-rma region gc` free its
//   slot and blocks, as they free blocks whose owner job holds no slot.
//
//   Block table, pages 2-5 [8192, 24576): 512 records of 32 bytes, record i at 8192 + 32 i:
//     0    offset          from the region's start, page aligned, inside the data area
//     8    size            bytes, a multiple of 4096; 0 = the record is free
//     16   owner job ID
//     24   owner token     the allocating attachment's random token, for diagnostics
//
// Data area, [24576, 24576 + data size): blocks handed out by the allocator.
// The smallest region holds one data page: 28672 bytes.

/// The constants of layout version 1. Offsets are bytes from the start of the region or record.
enum RegionLayout {
    static let version: UInt32 = 1
    static let pageSize = 4096

    static let magic = asciiWord("IVRMAREG")

    enum State {
        static let fresh: UInt64 = 0
        static let formatting = asciiWord("FMT-BUSY")
        static let ready = asciiWord("FMT-DONE")
    }

    enum Header {
        static let state = 0
        static let magic = 8
        static let version = 16
        static let regionSize = 24
        static let identityHigh = 32
        static let identityLow = 40
        /// The eight geometry words, in `RegionGeometry.words` order.
        static let geometry = 48
        static let checksum = 112
        /// The fields the checksum covers: everything the formatter writes except the state.
        static let checksummed = 8..<112
        static let allocatorLock = 128
        static let allocatorLockHolderToken = 192
        /// The holder's ProcessIdentity: kernel, pid, start time.
        static let allocatorLockHolder = 200
    }

    enum JobSlot {
        static let directoryOffset = 4096
        static let count = 64
        static let size = 64

        static let state = 0
        static let jobID = 8
        static let nonce = 16
        static let claimTime = 24
        /// The owner's ProcessIdentity: kernel, pid, start time.
        static let owner = 32

        static let free: UInt64 = 0
        static let claiming: UInt64 = 1
        static let claimed: UInt64 = 2
        static let releasing: UInt64 = 3
    }

    enum BlockRecord {
        static let tableOffset = 8192
        static let count = 512
        static let size = 32

        static let offset = 0
        static let blockSize = 8
        static let ownerJob = 16
        static let ownerToken = 24
    }

    static let dataOffset = BlockRecord.tableOffset + BlockRecord.count * BlockRecord.size
    static let minimumSize = dataOffset + pageSize

    /// An 8-character ASCII tag as the word whose little-endian bytes spell it, so a hex dump shows it.
    static func asciiWord(_ tag: StaticString) -> UInt64 {
        precondition(tag.utf8CodeUnitCount == 8, "a tag word has 8 characters")
        var word: UInt64 = 0
        for index in (0..<8).reversed() {
            word = word << 8 | UInt64(tag.utf8Start[index])
        }
        return word
    }
}

/// Where the directory, the table and the data area sit in a region of a given size.
/// Recorded in the header so a reader can check the formatter agreed with this library.
struct RegionGeometry: Equatable {
    var jobDirectoryOffset = RegionLayout.JobSlot.directoryOffset
    var jobSlotCount = RegionLayout.JobSlot.count
    var jobSlotSize = RegionLayout.JobSlot.size
    var blockTableOffset = RegionLayout.BlockRecord.tableOffset
    var blockRecordCount = RegionLayout.BlockRecord.count
    var blockRecordSize = RegionLayout.BlockRecord.size
    var dataOffset = RegionLayout.dataOffset
    var dataSize: Int

    /// The geometry layout version 1 gives a region of `regionSize` (at least the minimum) bytes.
    init(regionSize: Int) {
        let page = RegionLayout.pageSize
        dataSize = (regionSize - RegionLayout.dataOffset) / page * page
    }

    var dataEnd: Int { dataOffset + dataSize }

    /// The header's geometry words, from `RegionLayout.Header.geometry` on.
    var words: [UInt64] {
        [jobDirectoryOffset, jobSlotCount, jobSlotSize, blockTableOffset, blockRecordCount, blockRecordSize,
         dataOffset, dataSize].map { UInt64($0) }
    }
}
