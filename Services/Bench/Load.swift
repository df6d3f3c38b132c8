import Foundation
import Histogram
import Synchronization

/// One unit of work (a command, or a flow of several); true when it got the expected answer.
typealias Operation = @Sendable (Int) async -> Bool

/// What a load phase measured.
struct LoadResult: Sendable {
    /// Operations that got the expected answer.
    var completed: Int
    /// Operations that did not (or timed out).
    var failed: Int
    /// The measured window.
    var seconds: Double
    /// Latency in µs (from the intended send time in open loop, so queueing counts).
    var p50: Double
    /// 99th percentile, µs.
    var p99: Double
    /// 99.9th percentile, µs.
    var p999: Double
    /// CPU used by each watched process in the window.
    var cpu: CPUUsage

    /// Completed operations per second.
    var rate: Double { seconds > 0 ? Double(completed) / seconds : 0 }

    /// For `suite.json`.
    var json: [String: Any] {
        [
            "completed": completed, "failed": failed, "seconds": seconds, "rate": rate, "p50_us": p50, "p99_us": p99,
            "p999_us": p999, "cpu_ms": cpu.milliseconds,
        ]
    }
}

/// Records latencies and outcomes from many tasks.
final class Recorder: Sendable {
    private struct State {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var completed = 0
        var failed = 0
    }
    private let state = Mutex(State())
    private let next = Atomic<Int>(0)

    /// A fresh operation index.
    func nextIndex() -> Int { next.add(1, ordering: .relaxed).newValue }

    /// Records one outcome and, when it succeeded, its latency since `start`.
    func record(_ ok: Bool, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let micros = UInt64(
            max(0, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
        state.withLock { s in
            if ok {
                s.completed += 1
                s.histogram.record(min(micros, 600_000_000))
            } else {
                s.failed += 1
            }
        }
    }

    /// Outcomes so far.
    var counts: (completed: Int, failed: Int) { state.withLock { ($0.completed, $0.failed) } }

    /// The phase's figures.
    func result(seconds: Double, cpu: CPUUsage) -> LoadResult {
        state.withLock { s in
            LoadResult(
                completed: s.completed, failed: s.failed, seconds: seconds,
                p50: Double(s.histogram.valueAtPercentile(50)), p99: Double(s.histogram.valueAtPercentile(99)),
                p999: Double(s.histogram.valueAtPercentile(99.9)), cpu: cpu)
        }
    }
}

/// Drives operations and prints a progress line while it runs.
struct Load {
    /// Processes whose CPU is measured, by name.
    let processes: [String: Int32]
    /// Shown on the progress line.
    let label: String

    /// Closed loop: `concurrency` workers, each starting its next operation when the last one
    /// ended, for `duration`. Measures the saturation rate.
    func saturate(concurrency: Int, duration: Duration, operation: @escaping Operation) async -> LoadResult {
        let recorder = Recorder()
        let before = CPUUsage.sample(processes)
        let start = ContinuousClock.now
        let end = start + duration
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while ContinuousClock.now < end {
                        let i = recorder.nextIndex()
                        let t = ContinuousClock.now
                        let ok = await operation(i)
                        recorder.record(ok, since: t)
                    }
                }
            }
            group.addTask { await progress(recorder, start: start, end: end, mode: "saturate") }
            await group.waitForAll()
        }
        let seconds = seconds(ContinuousClock.now - start)
        return recorder.result(seconds: seconds, cpu: CPUUsage.sample(processes).minus(before))
    }

    /// Open loop: starts operations at `rate` per second for `duration`, whatever the replies do,
    /// and measures each latency from its intended start (no coordinated omission).
    func fixedRate(_ rate: Double, duration: Duration, operation: @escaping Operation) async -> LoadResult {
        let recorder = Recorder()
        let before = CPUUsage.sample(processes)
        let start = ContinuousClock.now
        let end = start + duration
        let total = Int(rate * seconds(duration))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await progress(recorder, start: start, end: end, mode: "rate \(Int(rate))/s") }
            var started = 0
            while started < total {
                let due = min(total, Int(seconds(ContinuousClock.now - start) * rate) + 1)
                while started < due {
                    let intended = start + .microseconds(Int64(Double(started) * 1_000_000 / rate))
                    let i = started
                    group.addTask {
                        let ok = await operation(i)
                        recorder.record(ok, since: intended)
                    }
                    started += 1
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
            await group.waitForAll()
        }
        // The rate is what was asked; the time is the sending window (stragglers excluded).
        return recorder.result(seconds: seconds(duration), cpu: CPUUsage.sample(processes).minus(before))
    }

    /// Waits (up to 30 s) until the services are idle: work a phase left behind (events other
    /// services still consume, outbox rows still to publish) must not count in the next one.
    func settle() async {
        let services = ["identity", "permissions", "binding", "deregistration"]
        let deadline = ContinuousClock.now + .seconds(30)
        var last = CPUUsage.sample(processes)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(500))
            let now = CPUUsage.sample(processes)
            let busy = services.map { (now.ticks[$0] ?? 0) - (last.ticks[$0] ?? 0) }.reduce(0, +)
            last = now
            // Under 4 ticks (40 ms) in 500 ms across the four services: idle loops only.
            if busy < 4 { return }
        }
    }

    private func progress(
        _ recorder: Recorder, start: ContinuousClock.Instant, end: ContinuousClock.Instant, mode: String
    )
        async
    {
        var last = 0
        var lastTime = start
        while ContinuousClock.now < end {
            try? await Task.sleep(for: .seconds(1))
            let (done, failed) = recorder.counts
            let now = ContinuousClock.now
            let rate = Double(done - last) / max(0.001, seconds(now - lastTime))
            last = done
            lastTime = now
            let line = String(
                format: "\r  %@ [%@] %4.0fs  done %d  failed %d  %.0f/s   ", label, mode, seconds(now - start), done,
                failed, rate)
            FileHandle.standardError.write(Data(line.utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Seconds in a duration.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// CPU time (user + system) of named processes, from `/proc/<pid>/stat`; a `postgres` entry counts
/// the postmaster and all its children (the backends).
struct CPUUsage: Sendable {
    /// utime + stime per process, in clock ticks.
    var ticks: [String: Int]

    /// `sysconf(_SC_CLK_TCK)`.
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The processes' CPU time now.
    static func sample(_ processes: [String: Int32]) -> CPUUsage {
        var ticks: [String: Int] = [:]
        for (name, pid) in processes {
            ticks[name] = name == "postgres" ? treeTicks(pid) : processTicks(pid) ?? 0
        }
        return CPUUsage(ticks: ticks)
    }

    /// The CPU time between `other` and this sample.
    func minus(_ other: CPUUsage) -> CPUUsage {
        CPUUsage(ticks: ticks.reduce(into: [:]) { $0[$1.key] = $1.value - (other.ticks[$1.key] ?? 0) })
    }

    /// Per process, in ms.
    var milliseconds: [String: Double] { ticks.mapValues { Double($0) * 1000 / Self.ticksPerSecond } }

    /// utime + stime and the parent pid.
    private static func stat(_ pid: Int32) -> (ticks: Int, parent: Int32)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state(3) ppid(4) … utime(14) stime(15).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let parent = Int32(fields[1]), let user = Int(fields[11]), let system = Int(fields[12])
        else { return nil }
        return (user + system, parent)
    }

    private static func processTicks(_ pid: Int32) -> Int? { stat(pid)?.ticks }

    private static func treeTicks(_ root: Int32) -> Int {
        var total = stat(root)?.ticks ?? 0
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != root, let s = stat(pid), s.parent == root else { continue }
            total += s.ticks
        }
        return total
    }
}
