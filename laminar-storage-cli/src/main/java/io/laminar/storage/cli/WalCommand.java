package io.laminar.storage.cli;

import io.laminar.storage.percore.RecordKind;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.wal.CorruptionPolicy;
import io.laminar.storage.wal.WalFileNames;
import io.laminar.storage.wal.WalInspection;
import io.laminar.storage.wal.WalLockedException;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WalRecoveryReport;
import io.laminar.storage.wal.WriteAheadLog;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code laminar wal}: the per-core logs of a WAL directory. */
@Command(name = "wal", mixinStandardHelpOptions = true,
        description = {"Inspect, verify and repair a WAL directory (<laminar.storage.dir>/wal).",
                "ls, dump and verify are read-only and safe against a running application's directory: they never "
                        + "take the WAL lock, never repair and never delete."},
        subcommands = {WalCommand.Ls.class, WalCommand.Dump.class, WalCommand.Verify.class, WalCommand.Repair.class},
        footer = {"", "Examples:", "  laminar wal ls /var/lib/orders/wal", "  laminar wal verify /var/lib/orders/wal",
                "  laminar wal dump /var/lib/orders/wal --core 0 --limit 20 --decode",
                "  laminar wal repair /var/lib/orders/wal"})
final class WalCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Epochs, sequences and kinds seen over a log's records. */
    static final class Summary {
        long firstEpoch = -1;
        long lastEpoch = -1;
        long lastSequence = -1;
        long barriers;
        long dataRecords;
        long invalid;
        String firstInvalid;
        long firstInvalidPosition = -1;
    }

    static Summary summarize(WalDirectory.Log log, Progress progress) {
        var summary = new Summary();
        var last = new long[] {-1};
        log.inspection().forEachRecord(0, (record, crc, segment) -> {
            var decoded = log.decode(record);
            if (decoded.record() == null) {
                summary.invalid++;
                if (summary.firstInvalid == null) {
                    summary.firstInvalid = decoded.problem();
                    summary.firstInvalidPosition = record.position();
                }
            } else {
                var r = decoded.record();
                if (summary.firstEpoch < 0) {
                    summary.firstEpoch = r.epoch();
                }
                summary.lastEpoch = r.epoch();
                summary.lastSequence = r.sequence();
                if (r.kind() == RecordKind.BARRIER) {
                    summary.barriers++;
                } else {
                    summary.dataRecords++;
                }
            }
            if (progress != null) {
                progress.advance(record.nextPosition() - Math.max(last[0], record.position()));
            }
            last[0] = record.nextPosition();
            return true;
        });
        return summary;
    }

    static Map<String, Object> damageJson(WalInspection.Damage d) {
        var m = new LinkedHashMap<String, Object>();
        m.put("kind", d.kind().name());
        m.put("file", d.file().toString());
        m.put("fileOffset", d.fileOffset());
        m.put("position", d.position());
        m.put("bytes", d.bytes());
        m.put("problem", d.problem());
        m.put("storedCrc32c", Output.crc(d.storedCrc()));
        m.put("computedCrc32c", Output.crc(d.computedCrc()));
        m.put("laterValidRecords", d.laterValidRecords());
        return m;
    }

    static String describe(WalInspection.Damage d) {
        var s = new StringBuilder();
        s.append(d.file()).append(" at file offset ").append(d.fileOffset()).append(" (log position ")
                .append(d.position()).append("): ");
        if (d.storedCrc() != null) {
            s.append("stored CRC32C ").append(Output.crc(d.storedCrc())).append(", computed ")
                    .append(Output.crc(d.computedCrc()));
        } else {
            s.append(d.problem());
        }
        return s.toString();
    }

    // ---- ls -------------------------------------------------------------------------------------

    @Command(name = "ls", mixinStandardHelpOptions = true,
            description = {"List the per-core logs: segments, positions, epochs, sizes and the state of the tail.",
                    "Read-only: never takes the WAL lock, safe against a running application's directory."},
            footer = {"", "Example:", "  laminar wal ls /var/lib/orders/wal --json"})
    static final class Ls implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "The WAL directory.")
        Path dir;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() {
            var logs = WalDirectory.open(dir, null);
            PrintWriter out = output.out();
            var list = new ArrayList<Map<String, Object>>();
            boolean damaged = false;
            for (var log : logs) {
                var i = log.inspection();
                var summary = summarize(log, null);
                long bytes = i.segments().stream().mapToLong(WalInspection.SegmentInfo::fileSize).sum();
                String tail = i.corruption() != null ? "CORRUPT (open fails; see `laminar wal verify`)"
                        : i.tornTail() != null ? "torn tail of " + i.tornTail().bytes() + " bytes (open zeroes it)" : "clean";
                damaged |= i.corruption() != null;
                if (output.json) {
                    var m = new LinkedHashMap<String, Object>();
                    m.put("log", log.name());
                    m.put("core", log.core() >= 0 ? log.core() : null);
                    m.put("startPosition", i.startPosition());
                    m.put("endPosition", i.endPosition());
                    m.put("records", i.records());
                    m.put("firstEpoch", summary.firstEpoch);
                    m.put("lastEpoch", summary.lastEpoch);
                    m.put("lastSequence", summary.lastSequence);
                    m.put("bytesOnDisk", bytes);
                    m.put("tail", i.corruption() != null ? "corrupt" : i.tornTail() != null ? "torn" : "clean");
                    m.put("tornTail", i.tornTail() == null ? null : damageJson(i.tornTail()));
                    m.put("corruption", i.corruption() == null ? null : damageJson(i.corruption()));
                    var segments = new ArrayList<Map<String, Object>>();
                    for (var s : i.segments()) {
                        var sm = new LinkedHashMap<String, Object>();
                        sm.put("file", s.path().getFileName().toString());
                        sm.put("basePosition", s.basePosition());
                        sm.put("endPosition", s.endPosition());
                        sm.put("records", s.records());
                        sm.put("capacity", s.capacity());
                        sm.put("fileSize", s.fileSize());
                        sm.put("headerProblem", s.headerProblem());
                        segments.add(sm);
                    }
                    m.put("segments", segments);
                    list.add(m);
                } else {
                    out.printf("%s%s: %d segment%s, positions %d..%d, %d records, epochs %s, last sequence %d, %s on disk, tail %s%n",
                            log.name(), log.core() >= 0 ? " (core " + log.core() + ")" : "", i.segments().size(),
                            Output.plural(i.segments().size()), i.startPosition(), i.endPosition(), i.records(),
                            summary.firstEpoch < 0 ? "-" : summary.firstEpoch + ".." + summary.lastEpoch,
                            summary.lastSequence, Output.bytes(bytes), tail);
                    for (var s : i.segments()) {
                        out.printf("  %s  base %d  end %d  records %d  capacity %s  file %s%s%n",
                                s.path().getFileName(), s.basePosition(), s.endPosition(), s.records(),
                                Output.bytes(s.capacity()), Output.bytes(s.fileSize()),
                                s.headerProblem() != null ? "  BAD HEADER: " + s.headerProblem() : "");
                    }
                }
            }
            if (output.json) {
                Output.printJson(out, Map.of("directory", WalDirectory.resolve(dir).toString(), "logs", list));
            }
            out.flush();
            return damaged ? LaminarCli.EXIT_DAMAGE : LaminarCli.EXIT_CLEAN;
        }
    }

    // ---- dump -----------------------------------------------------------------------------------

    enum Format { text, json }

    @Command(name = "dump", mixinStandardHelpOptions = true,
            description = {"Print the records of the logs: position, core, epoch, sequence, kind, size and CRC32C; "
                    + "with --decode the state change (key and value as UTF-8 text, or hex).",
                    "Only records that recovery would keep are shown (not a torn tail or what follows corruption).",
                    "Read-only: never takes the WAL lock."},
            footer = {"", "Examples:", "  laminar wal dump /var/lib/orders/wal --core 1 --from 4096 --limit 10 --decode",
                    "  laminar wal dump /var/lib/orders/wal --format json | jq .key"})
    static final class Dump implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "The WAL directory.")
        Path dir;
        @Option(names = "--core", paramLabel = "N", description = "Only the log of core N.")
        Integer core;
        @Option(names = "--from", paramLabel = "POS", description = "Start at log position POS (default: the oldest).")
        long from;
        @Option(names = "--limit", paramLabel = "N", description = "At most N records (default: all).")
        long limit = Long.MAX_VALUE;
        @Option(names = "--format", paramLabel = "text|json", description = "text (default) or json: one JSON object per line.")
        Format format = Format.text;
        @Option(names = "--json", description = "Same as --format json.")
        boolean json;
        @Option(names = "--decode", description = "Render state changes (put, delete, clear).")
        boolean decode;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            boolean asJson = json || format == Format.json;
            PrintWriter out = spec.commandLine().getOut();
            var logs = WalDirectory.open(dir, core);
            long[] printed = {0};
            for (var log : logs) {
                if (printed[0] >= limit) {
                    break;
                }
                log.inspection().forEachRecord(from, (record, crc, segment) -> {
                    var decoded = log.decode(record);
                    var m = new LinkedHashMap<String, Object>();
                    m.put("log", log.name());
                    m.put("position", record.position());
                    var r = decoded.record();
                    m.put("core", r != null ? r.core() : null);
                    m.put("epoch", r != null ? r.epoch() : null);
                    m.put("sequence", r != null ? r.sequence() : null);
                    m.put("kind", r != null ? r.kind().name() : "INVALID");
                    m.put("size", record.payload().remaining());
                    m.put("crc32c", Output.crc(crc));
                    if (r == null) {
                        m.put("problem", decoded.problem());
                    } else if (decode && r.kind() == RecordKind.DATA) {
                        m.putAll(change(r.body()));
                    }
                    if (asJson) {
                        Output.printJsonLine(out, m);
                    } else {
                        var line = new StringBuilder();
                        line.append(String.format("%s pos %d core %s epoch %s seq %s %s size %d crc %s", log.name(),
                                record.position(), m.get("core"), m.get("epoch"), m.get("sequence"), m.get("kind"),
                                record.payload().remaining(), m.get("crc32c")));
                        if (m.containsKey("op")) {
                            line.append("  ").append(m.get("op"));
                            if (m.containsKey("keyText")) {
                                line.append(" key=").append(m.get("keyText"));
                            }
                            if (m.containsKey("valueText")) {
                                line.append(" value=").append(m.get("valueText"));
                            }
                        }
                        if (r == null) {
                            line.append("  (").append(decoded.problem()).append(')');
                        }
                        out.println(line);
                    }
                    return ++printed[0] < limit;
                });
            }
            out.flush();
            return LaminarCli.EXIT_CLEAN;
        }

        private static Map<String, Object> change(java.nio.ByteBuffer body) {
            var m = new LinkedHashMap<String, Object>();
            try {
                StateChangeFormat.apply(body.duplicate(), new ChangelogSink() {
                    @Override
                    public void onPut(byte[] key, byte[] value) {
                        m.put("op", "PUT");
                        key(key);
                        m.put("value", Output.utf8OrNull(value));
                        m.put("valueHex", Output.hex(value));
                        m.put("valueText", Output.display(value));
                    }

                    @Override
                    public void onDelete(byte[] key) {
                        m.put("op", "DELETE");
                        key(key);
                    }

                    @Override
                    public void onClear() {
                        m.put("op", "CLEAR");
                    }

                    private void key(byte[] key) {
                        m.put("key", Output.utf8OrNull(key));
                        m.put("keyHex", Output.hex(key));
                        m.put("keyText", Output.display(key));
                    }
                });
            } catch (IllegalArgumentException e) {
                m.clear();
                m.put("op", "NOT-A-STATE-CHANGE");
                m.put("decodeProblem", e.getMessage());
            }
            return m;
        }
    }

    // ---- verify ---------------------------------------------------------------------------------

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Check every record of every log (frame, position, CRC32C, per-core entry header) and report "
                    + "torn tails and corruption exactly as recovery classifies them: file, offset, stored and computed "
                    + "CRC32C. Repairs nothing.",
                    "A torn tail (an unsynced record cut short by a crash) is reported but is not damage: opening the "
                            + "log zeroes it, and it was never acknowledged as durable. Corruption makes the exit code 1.",
                    "Read-only: never takes the WAL lock, safe against a running application's directory."},
            footer = {"", "Examples:", "  laminar wal verify /var/lib/orders/wal", "  laminar wal verify /var/lib/orders/wal --json",
                    "", "Exit codes: 0 clean (or only torn tails), 1 corruption found, 2 usage or access error."})
    static final class Verify implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "The WAL directory.")
        Path dir;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() {
            PrintWriter out = output.out();
            var logs = WalDirectory.open(dir, null);
            long total = 0;
            for (var log : logs) {
                for (var s : log.inspection().keptSegments()) {
                    total += s.endPosition() - s.basePosition();
                }
            }
            boolean damaged = false;
            var results = new ArrayList<Map<String, Object>>();
            try (var progress = new Progress("verify", total)) {
                for (var log : logs) {
                    var i = log.inspection();
                    var summary = summarize(log, progress);
                    var m = new LinkedHashMap<String, Object>();
                    m.put("log", log.name());
                    m.put("core", log.core() >= 0 ? log.core() : null);
                    m.put("records", i.records());
                    m.put("segments", i.segments().size());
                    m.put("startPosition", i.startPosition());
                    m.put("endPosition", i.endPosition());
                    m.put("tornTail", i.tornTail() == null ? null : damageJson(i.tornTail()));
                    m.put("corruption", i.corruption() == null ? null : damageJson(i.corruption()));
                    String status;
                    if (i.corruption() != null) {
                        status = "CORRUPT";
                    } else if (summary.invalid > 0) {
                        status = "CORRUPT";
                        m.put("invalidEntry", Map.of("position", summary.firstInvalidPosition, "problem",
                                summary.firstInvalid, "records", summary.invalid));
                    } else {
                        status = i.tornTail() != null ? "TORN-TAIL" : "OK";
                    }
                    m.put("status", status);
                    damaged |= status.equals("CORRUPT");
                    results.add(m);
                    if (!output.json) {
                        out.printf("%s: %s, %d records in %d segment%s (positions %d..%d)%n", log.name(), status,
                                i.records(), i.segments().size(), Output.plural(i.segments().size()),
                                i.startPosition(), i.endPosition());
                        if (i.corruption() != null) {
                            out.println("  corruption: " + describe(i.corruption()));
                            out.println("  " + i.corruption().problem());
                            out.println("  opening this log fails (CorruptionPolicy.FAIL); see `laminar wal repair "
                                    + WalDirectory.resolve(dir) + "`");
                        }
                        if (summary.invalid > 0) {
                            out.printf("  record at position %d is not a valid entry of core %d: %s%n",
                                    summary.firstInvalidPosition, log.core(), summary.firstInvalid);
                        }
                        if (i.tornTail() != null) {
                            out.println("  torn tail: " + describe(i.tornTail()) + "; " + i.tornTail().bytes()
                                    + " bytes never acknowledged as durable; opening the log zeroes them");
                        }
                    }
                }
            }
            if (output.json) {
                Output.printJson(out, Map.of("directory", WalDirectory.resolve(dir).toString(), "damaged", damaged,
                        "logs", results));
            } else {
                out.println(damaged ? "damage found" : "no corruption found");
            }
            out.flush();
            return damaged ? LaminarCli.EXIT_DAMAGE : LaminarCli.EXIT_CLEAN;
        }
    }

    // ---- repair ---------------------------------------------------------------------------------

    @Command(name = "repair", mixinStandardHelpOptions = true,
            description = {"The one way out when a log refuses to open because of mid-log damage: shows exactly what "
                    + "the library's opt-in truncation policy (CorruptionPolicy.TRUNCATE) would cut (per core: from "
                    + "which position, how many records and bytes, which later segments), and only with --yes does it.",
                    "Every cut byte is kept in *.dropped files beside the log; nothing is deleted. Never runs implicitly.",
                    "With --yes it takes the WAL lock: it refuses while the application holds the directory open. "
                            + "Without --yes it is read-only."},
            footer = {"", "Examples:", "  laminar wal repair /var/lib/orders/wal          # show the plan, change nothing",
                    "  laminar wal repair /var/lib/orders/wal --yes    # cut, and print what was cut",
                    "", "Exit codes: 0 nothing to repair or repaired, 1 damage found (without --yes), 2 usage or access "
                    + "error (e.g. the application holds the lock)."})
    static final class Repair implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "The WAL directory.")
        Path dir;
        @Option(names = "--yes", description = "Cut the log as shown.")
        boolean yes;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = output.out();
            var resolved = WalDirectory.resolve(dir);
            var damaged = WalDirectory.open(dir, null).stream().filter(l -> l.inspection().corruption() != null).toList();
            var plan = new ArrayList<Map<String, Object>>();
            for (var log : damaged) {
                plan.add(planJson(log.name(), log.inspection().truncationPlan()));
            }
            if (damaged.isEmpty()) {
                if (output.json) {
                    Output.printJson(out, Map.of("directory", resolved.toString(), "damaged", false, "plan", plan));
                } else {
                    out.println("nothing to repair: no log in " + resolved + " holds corruption (torn tails are "
                            + "repaired by the application's own open)");
                }
                out.flush();
                return LaminarCli.EXIT_CLEAN;
            }
            if (!yes) {
                if (output.json) {
                    Output.printJson(out, Map.of("directory", resolved.toString(), "damaged", true, "applied", false,
                            "plan", plan));
                } else {
                    for (var log : damaged) {
                        out.println(log.name() + ": " + describe(log.inspection().corruption()));
                        printRegions(out, "would cut", log.inspection().truncationPlan());
                    }
                    out.println("Nothing was changed. Stop the application, then run again with --yes to cut the log"
                            + Output.plural(damaged.size()) + " as shown.");
                }
                out.flush();
                return LaminarCli.EXIT_DAMAGE;
            }
            // Refuse before cutting anything if the application holds any of the logs.
            for (var log : damaged) {
                checkNotLocked(resolved, log.name());
            }
            var applied = new ArrayList<Map<String, Object>>();
            var cut = new ArrayList<String>();
            for (var log : damaged) {
                // New segments as large as the newest kept one (the application's size), else the default.
                var kept = log.inspection().keptSegments();
                WalOptions options;
                try {
                    var builder = WalOptions.builder().name(log.name()).corruptionPolicy(CorruptionPolicy.TRUNCATE);
                    if (!kept.isEmpty()) {
                        builder.segmentSize(kept.get(kept.size() - 1).capacity());
                    }
                    options = builder.build();
                } catch (IllegalArgumentException e) {
                    options = WalOptions.builder().name(log.name()).corruptionPolicy(CorruptionPolicy.TRUNCATE).build();
                }
                WalRecoveryReport report;
                try (var wal = WriteAheadLog.open(resolved, options)) {
                    report = wal.recoveryReport();
                } catch (WalLockedException e) {
                    // Taken since the check above (the application started meanwhile): say what is cut already.
                    if (output.json) {
                        Output.printJson(out, Map.of("directory", resolved.toString(), "damaged", true,
                                "applied", !applied.isEmpty(), "cut", applied));
                        out.flush();
                    }
                    throw new CliException("the WAL " + log.name() + " in " + resolved + " is open in another process "
                            + "(its lock file is held): " + (cut.isEmpty() ? "nothing was cut" : "the log"
                            + Output.plural(cut.size()) + " " + String.join(", ", cut) + " were cut already, the others"
                            + " not") + ". Stop the application first, then run again to cut the rest", e);
                }
                applied.add(planJson(log.name(), report.dropped()));
                cut.add(log.name());
                if (!output.json) {
                    out.println(log.name() + ": " + describe(log.inspection().corruption()));
                    printRegions(out, "cut", report.dropped());
                }
            }
            if (output.json) {
                Output.printJson(out, Map.of("directory", resolved.toString(), "damaged", true, "applied", true,
                        "cut", applied));
            } else {
                out.println("Repaired. The cut bytes are kept in the *.dropped files named above.");
            }
            out.flush();
            return LaminarCli.EXIT_CLEAN;
        }

        private static void checkNotLocked(Path dir, String logName) throws IOException {
            var lockFile = dir.resolve(WalFileNames.lockFileName(logName));
            if (!java.nio.file.Files.exists(lockFile)) {
                return;
            }
            try (var channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
                var lock = channel.tryLock();
                if (lock == null) {
                    throw new CliException("the WAL " + logName + " in " + dir + " is open in another process (lock file "
                            + lockFile + " is held): stop the application first; nothing was changed");
                }
                lock.release();
            } catch (OverlappingFileLockException e) {
                throw new CliException("the WAL " + logName + " is open in this process", e);
            }
        }

        private static void printRegions(PrintWriter out, String verb, List<WalRecoveryReport.DroppedRegion> regions) {
            long bytes = regions.stream().mapToLong(WalRecoveryReport.DroppedRegion::bytes).sum();
            long records = regions.stream().mapToLong(WalRecoveryReport.DroppedRegion::validRecords).sum();
            if (!regions.isEmpty()) {
                out.printf("  %s from position %d: %d bytes, %d records that still pass their checksum%n", verb,
                        regions.get(0).fromPosition(), bytes, records);
            }
            for (var r : regions) {
                out.printf("    %s from position %d: %d bytes, %d valid records -> kept in %s%n",
                        r.file().getFileName(), r.fromPosition(), r.bytes(), r.validRecords(), r.keptAs().getFileName());
            }
        }

        private static Map<String, Object> planJson(String name, List<WalRecoveryReport.DroppedRegion> regions) {
            var m = new LinkedHashMap<String, Object>();
            m.put("log", name);
            m.put("fromPosition", regions.isEmpty() ? null : regions.get(0).fromPosition());
            m.put("bytes", regions.stream().mapToLong(WalRecoveryReport.DroppedRegion::bytes).sum());
            m.put("records", regions.stream().mapToLong(WalRecoveryReport.DroppedRegion::validRecords).sum());
            var list = new ArrayList<Map<String, Object>>();
            for (var r : regions) {
                var rm = new LinkedHashMap<String, Object>();
                rm.put("file", r.file().getFileName().toString());
                rm.put("fromPosition", r.fromPosition());
                rm.put("bytes", r.bytes());
                rm.put("validRecords", r.validRecords());
                rm.put("keptAs", r.keptAs().getFileName().toString());
                list.add(rm);
            }
            m.put("regions", list);
            return m;
        }
    }
}
