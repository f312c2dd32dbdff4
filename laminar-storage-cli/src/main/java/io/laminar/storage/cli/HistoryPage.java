package io.laminar.storage.cli;

import static io.laminar.storage.report.CheckpointCharts.escape;

import io.laminar.storage.report.CheckpointCharts;
import io.laminar.storage.report.CheckpointCharts.Point;
import io.laminar.storage.report.CheckpointCharts.Unit;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The HTML page of {@code laminar checkpoint history}: charts from {@link CheckpointCharts}, a table, inline CSS. */
final class HistoryPage {

    private HistoryPage() {
    }

    static String render(String store, List<CheckpointCommand.Loaded> checkpoints) {
        var state = new ArrayList<Point>();
        var written = new ArrayList<Point>();
        var retained = new ArrayList<Point>();
        for (var l : checkpoints) {
            var m = l.manifest();
            if (m != null) {
                state.add(new Point(l.id(), m.stateBytes()));
                written.add(new Point(l.id(), m.writtenBytes()));
                retained.add(new Point(l.id(), CheckpointCommand.retainedBytes(m)));
            }
        }
        var html = new StringBuilder(16 * 1024);
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>laminar checkpoint history: ").append(escape(store)).append("</title>")
                .append("<style>body{font-family:sans-serif;margin:24px;color:#222}")
                .append(".charts{display:flex;flex-wrap:wrap;gap:16px}")
                .append("table{border-collapse:collapse;margin-top:24px}th,td{border:1px solid #ccc;padding:4px 8px;")
                .append("text-align:right}th{background:#f3f3f3}td.text{text-align:left}tr.corrupt{color:#b00}</style>")
                .append("</head><body>\n<h1>Checkpoint history</h1>\n<p>Store <code>").append(escape(store))
                .append("</code>: ").append(checkpoints.size()).append(" checkpoints, report written ")
                .append(escape(Instant.now().toString())).append(".</p>\n<div class=\"charts\">\n")
                .append(CheckpointCharts.lineChart("state-bytes", "State size (stateBytes)", Unit.BYTES, "#1f77b4", state))
                .append('\n')
                .append(CheckpointCharts.lineChart("written-bytes", "Incremental bytes written (writtenBytes)", Unit.BYTES,
                        "#ff7f0e", written))
                .append('\n')
                .append(CheckpointCharts.lineChart("retained-bytes", "Retained bytes (files referenced)", Unit.BYTES,
                        "#2ca02c", retained))
                .append("\n</div>\n<table id=\"checkpoints\"><thead><tr><th>id</th><th>epoch</th><th>created</th>")
                .append("<th>parent</th><th>files</th><th>state</th><th>written</th><th>retained</th></tr></thead><tbody>\n");
        for (var l : checkpoints) {
            var m = l.manifest();
            if (m == null) {
                html.append("<tr class=\"checkpoint corrupt\" data-id=\"").append(l.id()).append("\"><td>").append(l.id())
                        .append("</td><td class=\"text\" colspan=\"7\">CORRUPT: ").append(escape(l.problem()))
                        .append("</td></tr>\n");
                continue;
            }
            html.append("<tr class=\"checkpoint\" data-id=\"").append(l.id()).append("\"><td>").append(l.id())
                    .append("</td><td>").append(m.epoch()).append("</td><td class=\"text\">")
                    .append(escape(m.createdAt().toString())).append("</td><td>")
                    .append(m.parentCheckpointId() == null ? "-" : m.parentCheckpointId()).append("</td><td>")
                    .append(m.files().size()).append("</td><td>").append(escape(Output.bytes(m.stateBytes())))
                    .append("</td><td>").append(escape(Output.bytes(m.writtenBytes()))).append("</td><td>")
                    .append(escape(Output.bytes(CheckpointCommand.retainedBytes(m)))).append("</td></tr>\n");
        }
        return html.append("</tbody></table>\n</body></html>\n").toString();
    }
}
