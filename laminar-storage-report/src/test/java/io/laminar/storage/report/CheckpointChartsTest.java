package io.laminar.storage.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.report.CheckpointCharts.Point;
import io.laminar.storage.report.CheckpointCharts.Unit;
import java.util.List;
import org.junit.jupiter.api.Test;

class CheckpointChartsTest {

    @Test
    void onePointAndOneTooltipPerCheckpointNoNetwork() {
        var svg = CheckpointCharts.lineChart("state", "State <bytes>", Unit.BYTES, "#1f77b4",
                List.of(new Point(1, 1000), new Point(2, 3000), new Point(3, 2048)));
        assertThat(svg).startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"laminar-chart\" id=\"state\"")
                .endsWith("</svg>").contains("<title>State &lt;bytes&gt;</title>", "<polyline class=\"series\"",
                        "<title>checkpoint 3: 2.0 KiB</title>")
                .doesNotContain("<script", "href", "url(");
        assertThat(svg.split("<circle class=\"point\"", -1)).hasSize(4);
    }

    @Test
    void emptySeriesAndBadInput() {
        assertThat(CheckpointCharts.lineChart("x", "t", Unit.COUNT, "#000", List.of())).contains("no checkpoints");
        assertThatThrownBy(() -> CheckpointCharts.lineChart("\"><script>", "t", Unit.COUNT, "#000", List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CheckpointCharts.lineChart("x", "t", Unit.COUNT, "red;x", List.of()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void niceAxisCeilingAndLabels() {
        assertThat(CheckpointCharts.niceCeiling(0)).isEqualTo(4);
        assertThat(CheckpointCharts.niceCeiling(7)).isEqualTo(8);
        assertThat(CheckpointCharts.niceCeiling(130)).isEqualTo(200);
        assertThat(CheckpointCharts.label(1536, Unit.BYTES)).isEqualTo("1.5 KiB");
        assertThat(CheckpointCharts.label(1234567, Unit.COUNT)).isEqualTo("1,234,567");
    }
}
