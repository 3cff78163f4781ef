import CMPI
import CShims
import Glibc

/// MPI_Put, MPI_Get and their request-based forms: direct copies into and out of a target's
/// window memory in the region. The hot path (contiguous predefined types) is a table lookup,
/// a bounds check and one memcpy.
public enum DataMovement {
    enum Direction { case put, get }

    /// Contiguous copies at least this large use streaming stores (Config.streamingThreshold).
    nonisolated(unsafe) static var streamingThreshold = Int.max

    @inline(__always)
    static func copy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ bytes: Int) {
        ivshmem_copy(destination, source, bytes, streamingThreshold)
    }

    /// Which binding a call came in by: the int one (MPI_Put) or the MPI-4 large-count one
    /// (MPI_Put_c). The engine works in Int either way; only a call handed to MPICH keeps its binding.
    enum Binding { case int, large }

    /// The served put and get (EntryPoints.Table): region copies, staged copies, or MPICH.
    @inline(__always)
    static func transfer(_ direction: Direction, _ binding: Binding, _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                         _ originType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint,
                         _ targetCount: Int, _ targetType: MPI_Datatype, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else {
            return forward(direction, binding, origin, originCount, originType, target, displacement, targetCount, targetType, handle)
        }
        switch Policy.route(state, target) {
        case .region(let slot):
            let code = move(direction, origin, originCount, originType, state, target, slot, displacement, targetCount, targetType)
            if code == MPI_SUCCESS { Stats.count(direction == .put ? .putShm : .getShm) }
            return code
        case .staged:
            let code = StagedTransfer.transfer(direction, origin, originCount, originType, state, target, displacement,
                                               targetCount, targetType)
            if code == MPI_SUCCESS { Stats.count(direction == .put ? .putShm : .getShm) }
            return code
        case .mpich:
            if let attachments = state.pointee.attachments {
                return DynamicWindows.transfer(direction, binding, origin, originCount, originType, state, attachments, target,
                                               displacement, targetCount, targetType)
            }
            return forward(direction, binding, origin, originCount, originType, target, displacement, targetCount, targetType, handle)
        case .nowhere:
            return MPI_SUCCESS
        case .invalidRank:
            return windowError(handle, MPI_ERR_RANK)
        }
    }

    @inline(__always)  // with `direction` constant, a count and a tail call (EntryPoints.Table)
    static func handToMPICH(_ direction: Direction, _ origin: UnsafeMutableRawPointer?, _ originCount: Int32,
                            _ originType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint,
                            _ targetCount: Int32, _ targetType: MPI_Datatype, _ handle: MPI_Win) -> Int32 {
        Stats.count(direction == .put ? .putMpi : .getMpi)
        return direction == .put
            ? PMPI_Put(origin, originCount, originType, target, displacement, targetCount, targetType, handle)
            : PMPI_Get(origin, originCount, originType, target, displacement, targetCount, targetType, handle)
    }

    /// A served-path call that MPICH has to make after all, through the binding it came in by
    /// (counts of an int call fit an Int32).
    static func forward(_ direction: Direction, _ binding: Binding, _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                        _ originType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint,
                        _ targetCount: Int, _ targetType: MPI_Datatype, _ handle: MPI_Win) -> Int32 {
        guard binding == .large else {
            return handToMPICH(direction, origin, Int32(truncatingIfNeeded: originCount), originType, target, displacement,
                               Int32(truncatingIfNeeded: targetCount), targetType, handle)
        }
        Stats.count(direction == .put ? .putMpi : .getMpi)
        return direction == .put
            ? PMPI_Put_c(origin, MPI_Count(originCount), originType, target, displacement, MPI_Count(targetCount), targetType, handle)
            : PMPI_Get_c(origin, MPI_Count(originCount), originType, target, displacement, MPI_Count(targetCount), targetType, handle)
    }

    /// Request-based forms: region copies finish before the call returns, so the request handed
    /// back is already complete. They are legal only in passive-target epochs, as in MPICH.
    static func requestBased(_ direction: Direction, _ binding: Binding, _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                             _ originType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint, _ targetCount: Int,
                             _ targetType: MPI_Datatype, _ handle: MPI_Win,
                             _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let state = WindowTable.lookup(handle) else {
            return forwardRequest(direction, binding, origin, originCount, originType, target, displacement, targetCount,
                                  targetType, handle, request)
        }
        switch Policy.route(state, target) {
        case .region, .staged:
            guard Epochs.inPassiveEpoch(state, target) else { return windowError(handle, MPI_ERR_RMA_SYNC) }
            let code = transfer(direction, binding, origin, originCount, originType, target, displacement, targetCount,
                                targetType, handle)
            return code == MPI_SUCCESS ? CompletedRequests.make(request) : code
        case .mpich:
            return forwardRequest(direction, binding, origin, originCount, originType, target, displacement, targetCount,
                                  targetType, handle, request)
        case .nowhere:
            return CompletedRequests.make(request)
        case .invalidRank:
            return windowError(handle, MPI_ERR_RANK)
        }
    }

    @inline(__always)
    static func handToMPICHRequest(_ direction: Direction, _ origin: UnsafeMutableRawPointer?, _ originCount: Int32,
                                   _ originType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint, _ targetCount: Int32,
                                   _ targetType: MPI_Datatype, _ handle: MPI_Win,
                                   _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Stats.count(direction == .put ? .putMpi : .getMpi)
        return direction == .put
            ? PMPI_Rput(origin, originCount, originType, target, displacement, targetCount, targetType, handle, request)
            : PMPI_Rget(origin, originCount, originType, target, displacement, targetCount, targetType, handle, request)
    }

    private static func forwardRequest(_ direction: Direction, _ binding: Binding, _ origin: UnsafeMutableRawPointer?,
                                       _ originCount: Int, _ originType: MPI_Datatype, _ target: Int32,
                                       _ displacement: MPI_Aint, _ targetCount: Int, _ targetType: MPI_Datatype,
                                       _ handle: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard binding == .large else {
            return handToMPICHRequest(direction, origin, Int32(truncatingIfNeeded: originCount), originType, target,
                                      displacement, Int32(truncatingIfNeeded: targetCount), targetType, handle, request)
        }
        Stats.count(direction == .put ? .putMpi : .getMpi)
        return direction == .put
            ? PMPI_Rput_c(origin, MPI_Count(originCount), originType, target, displacement, MPI_Count(targetCount), targetType,
                          handle, request)
            : PMPI_Rget_c(origin, MPI_Count(originCount), originType, target, displacement, MPI_Count(targetCount), targetType,
                          handle, request)
    }

    struct CheckedTransfer {
        var originShape: TypeShape
        var targetShape: TypeShape
        /// 0 when either side describes no data: MPICH then moves nothing and checks nothing more.
        var bytes: Int
    }

    /// The checks MPICH makes of a put or get before any data moves: the epoch, the counts, and
    /// that both sides describe the same number of bytes, unless one of them describes none.
    @inline(__always)
    static func check(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32, _ originCount: Int,
                      _ originType: MPI_Datatype, _ targetCount: Int,
                      _ targetType: MPI_Datatype) -> Result<CheckedTransfer, MPIErrorClass> {
        guard Epochs.canAccess(state, target) else { return .failure(MPIErrorClass(MPI_ERR_RMA_SYNC)) }
        guard originCount >= 0, targetCount >= 0 else { return .failure(MPIErrorClass(MPI_ERR_COUNT)) }
        guard let originShape = Datatypes.shape(of: originType), let targetShape = Datatypes.shape(of: targetType) else {
            return .failure(MPIErrorClass(MPI_ERR_TYPE))
        }
        guard let originBytes = originShape.bytes(count: originCount), let targetBytes = targetShape.bytes(count: targetCount) else {
            return .failure(MPIErrorClass(MPI_ERR_COUNT))
        }
        var bytes = 0
        if originBytes != 0 && targetBytes != 0 {
            guard originBytes == targetBytes else { return .failure(MPIErrorClass(MPI_ERR_TYPE)) }
            bytes = originBytes
        }
        return .success(CheckedTransfer(originShape: originShape, targetShape: targetShape, bytes: bytes))
    }

    /// Copies between origin memory and a target's window, for any datatypes: one memcpy when both
    /// sides are contiguous, MPI_Pack/MPI_Unpack straight into or out of the mapped window
    /// otherwise. Checks the epoch and the target range first; writes nothing on error.
    @inline(__always)
    static func move(_ direction: Direction, _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                     _ originType: MPI_Datatype, _ state: UnsafeMutablePointer<WindowState>, _ target: Int32,
                     _ slot: TargetSlot, _ displacement: MPI_Aint, _ targetCount: Int,
                     _ targetType: MPI_Datatype) -> Int32 {
        let handle = state.pointee.handle
        let originShape: TypeShape, targetShape: TypeShape, bytes: Int
        switch check(state, target, originCount, originType, targetCount, targetType) {
        case .success(let checked): (originShape, targetShape, bytes) = (checked.originShape, checked.targetShape, checked.bytes)
        case .failure(let error): return windowError(handle, error.code)
        }
        if bytes == 0 { return MPI_SUCCESS }
        guard let window = TargetRange.resolve(slot, displacement, targetCount, targetShape) else {
            return windowError(handle, MPI_ERR_RMA_RANGE)
        }
        guard originShape.canAddress(origin) else { return windowError(handle, MPI_ERR_BUFFER) }

        if originShape.contiguous && targetShape.contiguous {
            switch direction {
            case .put: copy(window, origin!, bytes)
            case .get: copy(origin!, window, bytes)
            }
            return MPI_SUCCESS
        }
        switch direction {
        case .put:
            return Packing.transfer(from: origin, originCount, originType, originShape,
                                    to: window, targetCount, targetType, targetShape, bytes: bytes)
        case .get:
            return Packing.transfer(from: window, targetCount, targetType, targetShape,
                                    to: origin, originCount, originType, originShape, bytes: bytes)
        }
    }
}

/// Bounds of one access in a target's window.
enum TargetRange {
    /// The address of element 0 at `displacement`, when every byte that `count` (> 0) elements
    /// of `shape` touch lies inside the target's window; nil otherwise (MPI_ERR_RMA_RANGE).
    @inline(__always)
    static func resolve(_ slot: TargetSlot, _ displacement: MPI_Aint, _ count: Int, _ shape: TypeShape) -> UnsafeMutableRawPointer? {
        guard displacement >= 0, let base = slot.data, let span = shape.span(count: count) else { return nil }
        let (start, overflow) = displacement.multipliedReportingOverflow(by: slot.dispUnit)
        guard !overflow else { return nil }
        let (lower, lowOverflow) = start.addingReportingOverflow(span.lower)
        let (upper, highOverflow) = start.addingReportingOverflow(span.upper)
        guard !lowOverflow, !highOverflow, lower >= 0, upper <= slot.size else { return nil }
        return base + start
    }
}

/// Non-contiguous transfers through MPI_Pack/MPI_Unpack, which read and write any datatype
/// layout straight from and to the mapped memory on either side.
enum Packing {
    /// Either buffer may be nil (MPI_BOTTOM) when its type holds absolute addresses (TypeShape.canAddress).
    @inline(never)  // off the contiguous path's frame: its buffers would cost that path a stack protector
    static func transfer(from source: UnsafeMutableRawPointer?, _ sourceCount: Int, _ sourceType: MPI_Datatype,
                         _ sourceShape: TypeShape, to destination: UnsafeMutableRawPointer?, _ destinationCount: Int,
                         _ destinationType: MPI_Datatype, _ destinationShape: TypeShape, bytes: Int) -> Int32 {
        if sourceShape.contiguous, let source {
            return unpack(source, bytes, into: destination, destinationCount, destinationType)
        }
        if destinationShape.contiguous, let destination {
            return pack(source, sourceCount, sourceType, into: destination, bytes)
        }
        let staging = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { staging.deallocate() }
        let code = pack(source, sourceCount, sourceType, into: staging, bytes)
        return code == MPI_SUCCESS ? unpack(staging, bytes, into: destination, destinationCount, destinationType) : code
    }

    static func pack(_ source: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype,
                     into packed: UnsafeMutableRawPointer, _ bytes: Int) -> Int32 {
        withNonNullBuffer(source, count, type) { source, count, type in
            var position: MPI_Count = 0
            return PMPI_Pack_c(source, count, type, packed, MPI_Count(bytes), &position, MPI_COMM_SELF)
        }
    }

    static func unpack(_ packed: UnsafeRawPointer, _ bytes: Int, into destination: UnsafeMutableRawPointer?,
                       _ count: Int, _ type: MPI_Datatype) -> Int32 {
        withNonNullBuffer(destination, count, type) { destination, count, type in
            var position: MPI_Count = 0
            return PMPI_Unpack_c(packed, MPI_Count(bytes), &position, UnsafeMutableRawPointer(mutating: destination), count,
                                 type, MPI_COMM_SELF)
        }
    }

    /// MPI_Pack and MPI_Unpack refuse a NULL buffer even for a type of absolute addresses
    /// (MPI_BOTTOM): such a buffer is passed as address 1, with the type moved down one byte.
    private static func withNonNullBuffer(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype,
                                          _ body: (UnsafeRawPointer, MPI_Count, MPI_Datatype) -> Int32) -> Int32 {
        if let buffer { return body(buffer, MPI_Count(count), type) }
        var displacement: MPI_Count = -1
        var shifted = MPI_DATATYPE_NULL
        var code = PMPI_Type_create_hindexed_block_c(1, MPI_Count(count), &displacement, type, &shifted)
        if code == MPI_SUCCESS { code = PMPI_Type_commit(&shifted) }
        guard code == MPI_SUCCESS else { return code }
        defer { PMPI_Type_free(&shifted) }
        return body(UnsafeRawPointer(bitPattern: 1)!, 1, shifted)
    }
}
