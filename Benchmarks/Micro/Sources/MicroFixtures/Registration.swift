import Benchmark

extension Benchmark.Configuration {
    /// Each sample runs `scalingFactor` operations (`for _ in benchmark.scaledIterations`), and the
    /// tables show every metric per operation (marked *). Linux reports CPU time in 10 ms scheduler
    /// ticks, so it only means something for samples of tens of milliseconds; shorter ones read 0.
    ///
    /// Thresholds, used by `baseline check` and `thresholds check` on the raw per-sample values:
    /// - wall clock: the median may move 25 %: less raises false alarms on a shared 2-core machine,
    ///   and the regressions worth catching here (an extra atomic, a lost inlining, a slower copy) cost more;
    /// - CPU time: not checked, too coarse;
    /// - mallocs: half an allocation per operation, which absorbs the harness's own allocations
    ///   inside each sample (it reads /proc for the CPU time) yet fails on one more per operation.
    ///   Hence a factor of at least `.kilo`.
    public static func perOperation(_ scalingFactor: BenchmarkScalingFactor) -> Self {
        precondition(scalingFactor.rawValue >= BenchmarkScalingFactor.kilo.rawValue)
        return .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
            scalingFactor: scalingFactor,
            maxDuration: .seconds(2),
            thresholds: [
                .wallClock: .init(relative: [.p50: 25]),
                .cpuTotal: .init(),
                .mallocCountTotal: .init(absolute: [.p90: scalingFactor.rawValue / 2]),
            ])
    }
}

/// Registers a benchmark whose fixture is made by its setup and released by its teardown, so a
/// benchmark left out by `--filter` maps no region and starts no thread.
public func benchmark<Fixture>(_ name: String, _ configuration: Benchmark.Configuration,
                               fixture make: @escaping () throws -> Fixture,
                               measure: @escaping (Benchmark, Fixture) -> Void) {
    let slot = Slot<Fixture>()
    var configuration = configuration
    configuration.setup = { slot.fixture = try make() }
    configuration.teardown = { slot.fixture = nil }
    Benchmark(name, configuration: configuration) { benchmark in measure(benchmark, slot.fixture!) }
}

private final class Slot<Fixture> { var fixture: Fixture? }
