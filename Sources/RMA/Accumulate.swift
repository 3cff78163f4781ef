import CMPI
import Glibc
import SharedSync

/// MPI_Accumulate, MPI_Get_accumulate, MPI_Fetch_and_op, MPI_Compare_and_swap and the
/// request-based forms. Each is applied whole under the target's accumulate lock in the region,
/// so accumulates to one location never tear, whichever process (or VM) issues them. The
/// operation gives the bytes MPICH's own gives (Operators, Combine).
public enum Accumulate {
    /// One accumulate-family call, as the engine sees it.
    struct Operation {
        var binding: DataMovement.Binding
        var origin: UnsafeRawPointer?
        var originCount: Int
        var originType: MPI_Datatype
        /// MPI_Get_accumulate and MPI_Fetch_and_op: the target's data comes back to `result`, which
        /// may be nil (MPI_BOTTOM) like any buffer.
        var fetches: Bool
        var result: UnsafeMutableRawPointer?
        var resultCount: Int
        var resultType: MPI_Datatype
        var target: Int32
        var displacement: MPI_Aint
        var targetCount: Int
        var targetType: MPI_Datatype
        var op: MPI_Op

        init(_ binding: DataMovement.Binding, origin: UnsafeRawPointer?, originCount: Int, originType: MPI_Datatype,
             target: Int32, displacement: MPI_Aint, targetCount: Int, targetType: MPI_Datatype, op: MPI_Op) {
            (self.binding, self.origin, self.originCount, self.originType) = (binding, origin, originCount, originType)
            (self.fetches, self.result, self.resultCount, self.resultType) = (false, nil, 0, MPI_DATATYPE_NULL)
            (self.target, self.displacement, self.targetCount, self.targetType, self.op) = (target, displacement, targetCount, targetType, op)
        }

        init(_ binding: DataMovement.Binding, origin: UnsafeRawPointer?, originCount: Int, originType: MPI_Datatype,
             result: UnsafeMutableRawPointer?, resultCount: Int, resultType: MPI_Datatype,
             target: Int32, displacement: MPI_Aint, targetCount: Int, targetType: MPI_Datatype, op: MPI_Op) {
            self.init(binding, origin: origin, originCount: originCount, originType: originType, target: target,
                      displacement: displacement, targetCount: targetCount, targetType: targetType, op: op)
            (self.fetches, self.result, self.resultCount, self.resultType) = (true, result, resultCount, resultType)
        }
    }

    static func accumulate(_ operation: Operation, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else {
            Stats.count(.accMpi)
            return toMPICH(operation, handle)
        }
        let route = Policy.routeAccumulate(state, operation.target)
        switch route {
        case .region, .staged:
            let code = apply(operation, state, route)
            if code == MPI_SUCCESS { Stats.count(.accShm) }
            return code
        case .mpich:
            Stats.count(.accMpi)
            return toMPICH(operation, handle)
        case .nowhere:
            return MPI_SUCCESS
        case .invalidRank:
            return windowError(handle, MPI_ERR_RANK)
        }
    }

    /// MPI_Raccumulate / MPI_Rget_accumulate: applied before returning, so the request is complete.
    static func requestBased(_ operation: Operation, _ handle: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let state = WindowTable.lookup(handle) else {
            Stats.count(.accMpi)
            return toMPICHRequest(operation, handle, request)
        }
        switch Policy.routeAccumulate(state, operation.target) {
        case .region, .staged:
            guard Epochs.inPassiveEpoch(state, operation.target) else { return windowError(handle, MPI_ERR_RMA_SYNC) }
            let code = accumulate(operation, handle)
            return code == MPI_SUCCESS ? CompletedRequests.make(request) : code
        case .mpich:
            Stats.count(.accMpi)
            return toMPICHRequest(operation, handle, request)
        case .nowhere:
            return CompletedRequests.make(request)
        case .invalidRank:
            return windowError(handle, MPI_ERR_RANK)
        }
    }

    static func compareAndSwap(_ origin: UnsafeRawPointer?, _ compare: UnsafeRawPointer?, _ result: UnsafeMutableRawPointer?,
                               _ type: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else {
            Stats.count(.accMpi)
            return PMPI_Compare_and_swap(origin, compare, result, type, target, displacement, handle)
        }
        let route = Policy.routeAccumulate(state, target)
        switch route {
        case .region, .staged:
            guard Epochs.canAccess(state, target) else { return windowError(handle, MPI_ERR_RMA_SYNC) }
            guard let shape = Datatypes.shape(of: type), shape.contiguous, let origin, let compare, let result else {
                return windowError(handle, MPI_ERR_TYPE)
            }
            guard case .region(let slot) = route else {
                let code = StagedTransfer.compareAndSwap(origin, compare, result, type, shape, state, target, displacement)
                if code == MPI_SUCCESS { Stats.count(.accShm) }
                return code
            }
            guard let window = TargetRange.resolve(slot, displacement, 1, shape) else { return windowError(handle, MPI_ERR_RMA_RANGE) }
            withAccumulateLock(state, target) {
                memcpy(result, window, shape.size)
                if memcmp(window, compare, shape.size) == 0 { memcpy(window, origin, shape.size) }
            }
            Stats.count(.accShm)
            return MPI_SUCCESS
        case .mpich:
            Stats.count(.accMpi)
            return PMPI_Compare_and_swap(origin, compare, result, type, target, displacement, handle)
        case .nowhere:
            return MPI_SUCCESS
        case .invalidRank:
            return windowError(handle, MPI_ERR_RANK)
        }
    }

    /// An accumulate whose arguments passed every check, with what applying it needs.
    struct Checked {
        var bytes: Int
        var targetShape: TypeShape
        var element: MPI_Datatype
        var elementSize: Int
        var originShape: TypeShape?
        var resultShape: TypeShape?
        var ignoresOrigin: Bool
    }

    /// The checks MPICH makes of an accumulate: an error class, or nil when there is nothing to
    /// move. With MPI_NO_OP the origin's arguments are ignored (MPI 4.0, 12.3.4), so nothing here
    /// looks at them: the origin type may be MPI_DATATYPE_NULL. As in MPICH, a side that describes
    /// no data makes the call a no-op whatever the other sides say.
    private static func check(_ operation: Operation, _ state: UnsafeMutablePointer<WindowState>) -> Result<Checked?, MPIErrorClass> {
        guard Epochs.canAccess(state, operation.target) else { return .failure(MPIErrorClass(MPI_ERR_RMA_SYNC)) }
        guard isPredefined(operation.op) else { return .failure(MPIErrorClass(MPI_ERR_OP)) }
        let ignoresOrigin = operation.op == IVSHMEM_MPI_NO_OP
        guard operation.targetCount >= 0, ignoresOrigin || operation.originCount >= 0,
              !operation.fetches || operation.resultCount >= 0 else {
            return .failure(MPIErrorClass(MPI_ERR_COUNT))
        }
        func measured(_ type: MPI_Datatype, _ count: Int) -> Result<(TypeShape, Int), MPIErrorClass> {
            guard let shape = Datatypes.shape(of: type) else { return .failure(MPIErrorClass(MPI_ERR_TYPE)) }
            guard let bytes = shape.bytes(count: count) else { return .failure(MPIErrorClass(MPI_ERR_COUNT)) }
            return .success((shape, bytes))
        }
        let targetShape: TypeShape, bytes: Int
        var originShape: TypeShape?, resultShape: TypeShape?
        do {
            (targetShape, bytes) = try measured(operation.targetType, operation.targetCount).get()
            var empty = bytes == 0
            if !ignoresOrigin {
                let (shape, originBytes) = try measured(operation.originType, operation.originCount).get()
                guard originBytes == bytes || originBytes == 0 || bytes == 0 else { return .failure(MPIErrorClass(MPI_ERR_TYPE)) }
                (originShape, empty) = (shape, empty || originBytes == 0)
            }
            if operation.fetches {
                let (shape, resultBytes) = try measured(operation.resultType, operation.resultCount).get()
                guard resultBytes == bytes || resultBytes == 0 || bytes == 0 else { return .failure(MPIErrorClass(MPI_ERR_TYPE)) }
                (resultShape, empty) = (shape, empty || resultBytes == 0)
            }
            if empty { return .success(nil) }
        } catch {
            return .failure(error)
        }
        guard let element = Datatypes.elementType(of: operation.targetType),
              let elementSize = Datatypes.predefinedSize(element), elementSize > 0,
              ignoresOrigin || Datatypes.elementType(of: operation.originType) == element else {
            return .failure(MPIErrorClass(MPI_ERR_TYPE))
        }
        guard originShape?.canAddress(operation.origin) ?? true, resultShape?.canAddress(operation.result) ?? true else {
            return .failure(MPIErrorClass(MPI_ERR_BUFFER))
        }
        return .success(Checked(bytes: bytes, targetShape: targetShape, element: element, elementSize: elementSize,
                                originShape: originShape, resultShape: resultShape, ignoresOrigin: ignoresOrigin))
    }

    private static func apply(_ operation: Operation, _ state: UnsafeMutablePointer<WindowState>, _ route: Policy.Route) -> Int32 {
        let handle = state.pointee.handle
        let checked: Checked
        switch check(operation, state) {
        case .success(let result?): checked = result
        case .success(nil): return MPI_SUCCESS
        case .failure(let error): return windowError(handle, error.code)
        }
        guard case .region(let slot) = route else { return StagedTransfer.accumulate(operation, checked, state) }
        let bytes = checked.bytes
        guard let window = TargetRange.resolve(slot, operation.displacement, operation.targetCount, checked.targetShape) else {
            return windowError(handle, MPI_ERR_RMA_RANGE)
        }

        // Contiguous images of the target's elements and the origin's, staged only when a side is not contiguous.
        let staged = Staging(bytes: bytes, targetContiguous: checked.targetShape.contiguous,
                             originContiguous: checked.ignoresOrigin || checked.originShape!.contiguous)
        defer { staged.release() }
        var code = MPI_SUCCESS
        withAccumulateLock(state, operation.target) {
            let current = staged.target ?? window
            if let image = staged.target {
                code = Packing.pack(window, operation.targetCount, operation.targetType, into: image, bytes)
                guard code == MPI_SUCCESS else { return }
            }
            if operation.fetches {
                code = copyOut(current, bytes, to: operation.result, operation.resultCount, operation.resultType, checked.resultShape!)
                guard code == MPI_SUCCESS else { return }
            }
            guard !checked.ignoresOrigin else { return }
            let incoming: UnsafeRawPointer
            if let image = staged.origin {
                code = Packing.pack(operation.origin, operation.originCount, operation.originType, into: image, bytes)
                guard code == MPI_SUCCESS else { return }
                incoming = UnsafeRawPointer(image)
            } else {
                incoming = operation.origin!
            }
            code = Combine.apply(operation.op, checked.element, target: current, origin: incoming, bytes: bytes,
                                 elementSize: checked.elementSize)
            guard code == MPI_SUCCESS else { return }
            if staged.target != nil {
                code = Packing.unpack(current, bytes, into: window, operation.targetCount, operation.targetType)
            }
        }
        return code == MPI_SUCCESS ? MPI_SUCCESS : windowError(handle, code)
    }

    private static func copyOut(_ image: UnsafeRawPointer, _ bytes: Int, to result: UnsafeMutableRawPointer?,
                                _ count: Int, _ type: MPI_Datatype, _ shape: TypeShape) -> Int32 {
        if shape.contiguous {  // so not nil (TypeShape.canAddress)
            memcpy(result!, image, bytes)
            return MPI_SUCCESS
        }
        return Packing.unpack(image, bytes, into: result, count, type)
    }

    @inline(__always)
    private static func withAccumulateLock(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32, _ body: () -> Void) {
        let slot = state.pointee.targets[Int(target)]
        let lock = SharedSpinLock(at: slot.control! + ControlBlock.accumulateLock)
        if !lock.lock(token: UInt64(state.pointee.worldRank) + 1, state.pointee.waitPolicy) {
            // Windows leave the table before the runtime goes (Lifecycle.finalize), so a window we
            // serve always has one. The token is the holder's world rank + 1: name the holder when
            // it is one of ours.
            let runtime = Runtime.current!
            let holder = lock.holder
            let peer = holder > 0 && holder <= UInt64(runtime.worldSize) ? Int32(holder - 1) : slot.worldRank
            runtime.abortOnTimeout("accumulate lock of MPI window", waitingFor: [peer])
        }
        body()
        lock.unlock()
    }

    /// One of the predefined operations, matched against their handles as the MPICH ABI's mpi.h
    /// fixes them (every program of the family has them compiled in), not decoded from handle
    /// bits: an operation read from the region passes only if every process knows it.
    static func isPredefined(_ op: MPI_Op) -> Bool {
        withUnsafeBytes(of: IVSHMEM_MPI_PREDEFINED_OPS) { $0.bindMemory(to: MPI_Op.self).contains(op) }
    }

    private struct Staging {
        let target: UnsafeMutableRawPointer?
        let origin: UnsafeMutableRawPointer?
        init(bytes: Int, targetContiguous: Bool, originContiguous: Bool) {
            target = targetContiguous ? nil : .allocate(byteCount: bytes, alignment: 64)
            origin = originContiguous ? nil : .allocate(byteCount: bytes, alignment: 64)
        }
        func release() {
            target?.deallocate()
            origin?.deallocate()
        }
    }

    /// Through the binding the call came in by (an int call's counts fit an Int32).
    private static func toMPICH(_ o: Operation, _ handle: MPI_Win) -> Int32 {
        let (originCount, resultCount, targetCount) = (Int32(truncatingIfNeeded: o.originCount),
                                                       Int32(truncatingIfNeeded: o.resultCount),
                                                       Int32(truncatingIfNeeded: o.targetCount))
        switch (o.fetches, o.binding) {
        case (true, .int):
            return PMPI_Get_accumulate(o.origin, originCount, o.originType, o.result, resultCount, o.resultType,
                                       o.target, o.displacement, targetCount, o.targetType, o.op, handle)
        case (true, .large):
            return PMPI_Get_accumulate_c(o.origin, MPI_Count(o.originCount), o.originType, o.result, MPI_Count(o.resultCount),
                                         o.resultType, o.target, o.displacement, MPI_Count(o.targetCount), o.targetType,
                                         o.op, handle)
        case (false, .int):
            return PMPI_Accumulate(o.origin, originCount, o.originType, o.target, o.displacement, targetCount, o.targetType,
                                   o.op, handle)
        case (false, .large):
            return PMPI_Accumulate_c(o.origin, MPI_Count(o.originCount), o.originType, o.target, o.displacement,
                                     MPI_Count(o.targetCount), o.targetType, o.op, handle)
        }
    }

    private static func toMPICHRequest(_ o: Operation, _ handle: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        let (originCount, resultCount, targetCount) = (Int32(truncatingIfNeeded: o.originCount),
                                                       Int32(truncatingIfNeeded: o.resultCount),
                                                       Int32(truncatingIfNeeded: o.targetCount))
        switch (o.fetches, o.binding) {
        case (true, .int):
            return PMPI_Rget_accumulate(o.origin, originCount, o.originType, o.result, resultCount, o.resultType,
                                        o.target, o.displacement, targetCount, o.targetType, o.op, handle, request)
        case (true, .large):
            return PMPI_Rget_accumulate_c(o.origin, MPI_Count(o.originCount), o.originType, o.result, MPI_Count(o.resultCount),
                                          o.resultType, o.target, o.displacement, MPI_Count(o.targetCount), o.targetType,
                                          o.op, handle, request)
        case (false, .int):
            return PMPI_Raccumulate(o.origin, originCount, o.originType, o.target, o.displacement, targetCount, o.targetType,
                                    o.op, handle, request)
        case (false, .large):
            return PMPI_Raccumulate_c(o.origin, MPI_Count(o.originCount), o.originType, o.target, o.displacement,
                                      MPI_Count(o.targetCount), o.targetType, o.op, handle, request)
        }
    }
}
