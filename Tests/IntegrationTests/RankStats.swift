/// Which way a one-sided call went: through the region or handed to MPICH.
enum CallPath: String, CaseIterable, Sendable {
    case shm, mpi
}

/// One rank's `ivshmem-rma stats rank=<world rank> key=value ...` line, printed to
/// stderr at MPI_Finalize when IVSHMEM_RMA_STATS=1.
struct RankStats: Sendable {
    static let linePrefix = "ivshmem-rma stats rank="
    /// Keys every stats line must carry, with integer values.
    static let requiredKeys = OneSidedCall.allCases.flatMap { call in CallPath.allCases.map { "\(call)_\($0)" } }

    let rank: Int
    let values: [String: String]
    let line: String

    func count(_ call: OneSidedCall, _ path: CallPath) -> Int {
        Int(values["\(call)_\(path)"] ?? "") ?? -1
    }

    /// Point-to-point sends served through the region (`send_shm`) or handed to MPICH (`send_mpi`);
    /// -1 when the line has no such key.
    func sends(_ path: CallPath) -> Int {
        Int(values["send_\(path)"] ?? "") ?? -1
    }

    /// Point-to-point receives served through the region (`recv_shm`) or handed to MPICH (`recv_mpi`);
    /// -1 when the line has no such key. A sendrecv counts one send and one receive.
    func receives(_ path: CallPath) -> Int {
        Int(values["recv_\(path)"] ?? "") ?? -1
    }

    /// Parses one line; nil when it is not a well-formed stats line with every required key.
    init?(line: Substring) {
        guard line.hasPrefix(Self.linePrefix) else { return nil }
        var values: [String: String] = [:]
        for field in line.dropFirst("ivshmem-rma stats ".count).split(separator: " ") {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else { return nil }
            values[String(field[..<equals])] = String(field[field.index(after: equals)...])
        }
        guard let rank = values["rank"].flatMap({ Int($0) }),
            Self.requiredKeys.allSatisfy({ values[$0].flatMap { Int($0) } != nil })
        else { return nil }
        self.rank = rank
        self.values = values
        self.line = String(line)
    }

    /// Every stats line of a job's stderr, plus the lines that start like one but do not parse.
    static func parse(stderr: String) -> (stats: [RankStats], malformed: [String]) {
        var stats: [RankStats] = []
        var malformed: [String] = []
        for line in stderr.split(separator: "\n") where line.hasPrefix(linePrefix) {
            if let parsed = RankStats(line: line) { stats.append(parsed) } else { malformed.append(String(line)) }
        }
        return (stats, malformed)
    }
}
