package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WalFileNamesTest {

    @Test
    void segmentNamesCarryTheBasePositionAsTwentyDigits() {
        assertThat(WalFileNames.segmentFileName("core-0003", 4096)).isEqualTo("core-0003-00000000000000004096.wal");
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003-00000000000000004096.wal")).isEqualTo(4096);
        assertThat(WalFileNames.segmentBase("wal", WalFileNames.segmentFileName("wal", Long.MAX_VALUE)))
                .isEqualTo(Long.MAX_VALUE);
        assertThat(WalFileNames.lockFileName("core-0003")).isEqualTo("core-0003.lock");
    }

    @Test
    void onlyTheLogsOwnSegmentsParse() {
        assertThat(WalFileNames.segmentBase("core", "core-0003-00000000000000004096.wal")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003-0000000000000004096.wal")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003-0000000000000000409x.wal")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003-99999999999999999999.wal")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003-00000000000000004096.wal.dropped")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003_00000000000000004096.wal")).isEqualTo(-1);
        assertThat(WalFileNames.segmentBase("core-0003", "core-0003.lock")).isEqualTo(-1);
    }

    @Test
    void theLogOfASegmentOrLockFile() {
        assertThat(WalFileNames.logName("core-0003-00000000000000004096.wal")).hasValue("core-0003");
        assertThat(WalFileNames.logName("core-0003.lock")).hasValue("core-0003");
        assertThat(WalFileNames.logName("wal-00000000000000000000.wal")).hasValue("wal");
        assertThat(WalFileNames.logName("core-0003-next.wal.tmp")).isEmpty();
        assertThat(WalFileNames.logName("core-0003-sparse.wal.tmp")).isEmpty();
        assertThat(WalFileNames.logName("core-0003-00000000000000004096.wal.dropped")).isEmpty();
        assertThat(WalFileNames.logName("core-0003-00000000000000004096.wal.dropped-64")).isEmpty();
        assertThat(WalFileNames.logName("-00000000000000004096.wal")).isEmpty();
        assertThat(WalFileNames.logName("00000000000000004096.wal")).isEmpty();
        assertThat(WalFileNames.logName(".lock")).isEmpty();
        assertThat(WalFileNames.logName("a.b.lock")).isEmpty();
    }
}
