import Foundation
import Region

/// The readable form of `region inspect`: a few summary lines, then a table of jobs and one of windows.
enum RegionTables {
    static func render(_ report: RegionReport) -> String {
        var lines = ["region \(report.path): \(report.size) bytes (\(describe(report.size))), "
                     + (report.valid ? "valid" : report.isUnformatted ? "not formatted yet" : "NOT VALID")]
        if let problem = report.problem, !report.isUnformatted { lines.append("problem: \(problem)") }
        if let header = report.header {
            lines.append("header: state \(header.state), magic \(header.magic), layout version \(header.layoutVersion), "
                         + "formatted for \(header.formattedSize) bytes, identity \(header.identity)")
        }
        guard report.valid else { return lines.joined(separator: "\n") }
        lines.append("data area: offset \(report.dataOffset), \(describe(report.dataSize)); used \(describe(report.usedBytes)), "
                     + "free \(describe(report.freeBytes)), largest free extent \(describe(report.largestFreeExtent))")
        lines.append("allocator lock: " + (report.allocatorLock.map { lock in
            "held by token \(hex(lock.token))" + (lock.holder.map { " (pid \($0.pid), \(lock.holderLiveness?.rawValue ?? ""))" } ?? "")
        } ?? "free"))

        lines.append("")
        lines.append("jobs: \(report.jobs.count) of \(Region.jobSlotCount) slots")
        if !report.jobs.isEmpty {
            lines += table(["slot", "job", "state", "leader pid", "claimed (UTC)", "liveness"], report.jobs.map {
                ["\($0.index)", hex($0.jobID), $0.state.rawValue, $0.owner.isRecorded ? "\($0.owner.pid)" : "-",
                 utc($0.claimTime), $0.liveness.rawValue]
            })
        }
        lines.append("")
        lines.append("windows (allocated blocks): \(report.windows.count)")
        if !report.windows.isEmpty {
            lines += table(["record", "offset", "size", "job", "job is", "valid"], report.windows.map {
                ["\($0.block.record)", "\($0.block.offset)", describe(Int(clamping: $0.block.size)), hex($0.block.ownerJob),
                 $0.ownerJobState, $0.block.insideDataArea ? "yes" : "NO: outside the data area"]
            })
        }
        return lines.joined(separator: "\n")
    }

    /// Columns padded to their widest cell, numbers right-aligned.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.indices.map { column in
                let cell = row[column], padding = String(repeating: " ", count: widths[column] - cell.count)
                return Int(cell) != nil ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
    }

    static func utc(_ seconds: UInt64) -> String {
        guard seconds > 0, seconds < UInt64(Int32.max) * 4 else { return "-" }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
    }
}
