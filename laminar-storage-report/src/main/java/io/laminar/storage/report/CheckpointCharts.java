package io.laminar.storage.report;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Renders checkpoint series (one value per checkpoint: state bytes, incremental bytes, retained
 * bytes, durations, ...) as self-contained inline SVG: no script, no style sheet, no font or image
 * to fetch, so the markup works in an offline HTML file ({@code laminar checkpoint history --html})
 * and in any web page (the starter's checkpoint page). Depends on the JDK alone. Stateless and
 * thread-safe.
 *
 * <p>Each chart is one {@code <svg class="laminar-chart">} with a {@code <title>}, axes with
 * labelled ticks, one {@code <polyline class="series">} and one {@code <circle class="point">} per
 * point (its {@code <title>} a tooltip with the checkpoint id and value).
 */
public final class CheckpointCharts {

    /** One checkpoint's value. */
    public record Point(long checkpointId, long value) {
    }

    /** How values are labelled on the axis and in tooltips. */
    public enum Unit { BYTES, COUNT, MILLIS }

    private static final int WIDTH = 560;
    private static final int HEIGHT = 240;
    private static final int LEFT = 72;
    private static final int RIGHT = 16;
    private static final int TOP = 28;
    private static final int BOTTOM = 36;

    private CheckpointCharts() {
    }

    /**
     * A line chart of {@code points} in the order given (typically ascending checkpoint id).
     *
     * @param id     the SVG element's id (letters, digits, '-' and '_')
     * @param title  the chart's title, shown above it
     * @param color  the series' color, e.g. {@code #1f77b4}
     */
    public static String lineChart(String id, String title, Unit unit, String color, List<Point> points) {
        Objects.requireNonNull(points, "points");
        if (!id.matches("[A-Za-z][A-Za-z0-9_-]*")) {
            throw new IllegalArgumentException("not an id: " + id);
        }
        if (!color.matches("#[0-9a-fA-F]{3,8}")) {
            throw new IllegalArgumentException("not a color: " + color);
        }
        long max = 0;
        for (var p : points) {
            max = Math.max(max, p.value());
        }
        long top = niceCeiling(max);
        int plotWidth = WIDTH - LEFT - RIGHT;
        int plotHeight = HEIGHT - TOP - BOTTOM;
        var svg = new StringBuilder(1024 + points.size() * 160);
        svg.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"laminar-chart\" id=\"").append(id)
                .append("\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT).append("\" viewBox=\"0 0 ")
                .append(WIDTH).append(' ').append(HEIGHT).append("\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">")
                .append("<title>").append(escape(title)).append("</title>")
                .append("<text x=\"").append(LEFT).append("\" y=\"16\" font-size=\"13\" font-weight=\"bold\">")
                .append(escape(title)).append("</text>");
        // Axes and horizontal grid lines with labels.
        for (int i = 0; i <= 4; i++) {
            double y = TOP + plotHeight - plotHeight * i / 4.0;
            svg.append("<line class=\"grid\" x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - RIGHT)
                    .append("\" y1=\"").append(fmt(y)).append("\" y2=\"").append(fmt(y))
                    .append("\" stroke=\"").append(i == 0 ? "#555" : "#ddd").append("\"/>");
            svg.append("<text class=\"tick\" x=\"").append(LEFT - 6).append("\" y=\"").append(fmt(y + 4))
                    .append("\" text-anchor=\"end\">").append(escape(label(top * i / 4, unit))).append("</text>");
        }
        svg.append("<line class=\"axis\" x1=\"").append(LEFT).append("\" x2=\"").append(LEFT).append("\" y1=\"")
                .append(TOP).append("\" y2=\"").append(TOP + plotHeight).append("\" stroke=\"#555\"/>");
        if (points.isEmpty()) {
            svg.append("<text x=\"").append(LEFT + plotWidth / 2).append("\" y=\"").append(TOP + plotHeight / 2)
                    .append("\" text-anchor=\"middle\" fill=\"#888\">no checkpoints</text>");
        } else {
            var line = new StringBuilder();
            var dots = new StringBuilder();
            int n = points.size();
            int labelEvery = Math.max(1, (int) Math.ceil(n / 10.0));
            for (int i = 0; i < n; i++) {
                var p = points.get(i);
                double x = n == 1 ? LEFT + plotWidth / 2.0 : LEFT + plotWidth * i / (double) (n - 1);
                double y = TOP + plotHeight - (top == 0 ? 0 : plotHeight * (double) p.value() / top);
                line.append(i == 0 ? "" : " ").append(fmt(x)).append(',').append(fmt(y));
                dots.append("<circle class=\"point\" cx=\"").append(fmt(x)).append("\" cy=\"").append(fmt(y))
                        .append("\" r=\"3\" fill=\"").append(color).append("\"><title>checkpoint ")
                        .append(p.checkpointId()).append(": ").append(escape(label(p.value(), unit)))
                        .append("</title></circle>");
                if (i % labelEvery == 0 || i == n - 1) {
                    svg.append("<text class=\"tick\" x=\"").append(fmt(x)).append("\" y=\"").append(TOP + plotHeight + 16)
                            .append("\" text-anchor=\"middle\">").append(p.checkpointId()).append("</text>");
                }
            }
            svg.append("<polyline class=\"series\" fill=\"none\" stroke=\"").append(color)
                    .append("\" stroke-width=\"2\" points=\"").append(line).append("\"/>").append(dots);
        }
        svg.append("<text x=\"").append(LEFT + plotWidth / 2).append("\" y=\"").append(HEIGHT - 4)
                .append("\" text-anchor=\"middle\" fill=\"#555\">checkpoint id</text>");
        return svg.append("</svg>").toString();
    }

    /** {@code value} for a person: {@code 1.5 MiB}, {@code 1,024}, {@code 250 ms}. */
    public static String label(long value, Unit unit) {
        return switch (unit) {
            case COUNT -> String.format(Locale.ROOT, "%,d", value);
            case MILLIS -> value + " ms";
            case BYTES -> bytes(value);
        };
    }

    private static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** The smallest 1, 2 or 5 times a power of ten that is at least {@code max} (and 4 divides evenly enough). */
    static long niceCeiling(long max) {
        if (max <= 0) {
            return 4;
        }
        long power = 1;
        while (power <= max / 10) {
            power *= 10;
        }
        for (long step : new long[] {1, 2, 4, 5, 8, 10}) {
            if (step * power >= max) {
                return step * power;
            }
        }
        return 10 * power;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** Escapes text for XML and HTML content and attribute values. */
    public static String escape(String text) {
        var sb = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
