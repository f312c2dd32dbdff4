package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.runtime.LaminarRuntime;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.json.JsonMapper;

class BatchTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static Batch parse(String json) {
        return Batch.parse(JSON.readTree(json));
    }

    @Test
    void aValidBodyBecomesABatch() {
        var batch = parse("{\"batchId\": \"b-1\", \"events\": [{\"key\": \"a\", \"amount\": 5}, "
                + "{\"key\": \"b\", \"amount\": -9223372036854775808, \"note\": \"ignored\"}]}");
        assertThat(batch).isEqualTo(new Batch("b-1", List.of(new Event("a", 5), new Event("b", Long.MIN_VALUE))));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            an array                  | []                                                              | the body must be a JSON object
            no batchId                | {"events": [{"key": "a", "amount": 1}]}                         | batchId must be a non-blank string
            a blank batchId           | {"batchId": "  ", "events": [{"key": "a", "amount": 1}]}        | batchId must be a non-blank string
            a numeric batchId         | {"batchId": 7, "events": [{"key": "a", "amount": 1}]}           | batchId must be a non-blank string
            no events                 | {"batchId": "b"}                                                | events must be an array
            empty events              | {"batchId": "b", "events": []}                                  | events must not be empty
            an event that is a number | {"batchId": "b", "events": [3]}                                 | events[0]: the event must be an object
            a missing key             | {"batchId": "b", "events": [{"amount": 1}]}                     | events[0]: key must be a non-blank string
            a blank key               | {"batchId": "b", "events": [{"key": "a", "amount": 1}, {"key": "", "amount": 1}]} | events[1]: key must be a non-blank string
            a missing amount          | {"batchId": "b", "events": [{"key": "a"}]}                      | events[0]: amount is missing
            a fractional amount       | {"batchId": "b", "events": [{"key": "a", "amount": 1.5}]}       | events[0]: amount must be an integer, but was 1.5
            an amount in a string     | {"batchId": "b", "events": [{"key": "a", "amount": "1"}]}       | events[0]: amount must be an integer
            a too large amount        | {"batchId": "b", "events": [{"key": "a", "amount": 9223372036854775808}]} | amount must fit in a signed 64-bit integer
            a key sum overflow        | {"batchId": "b", "events": [{"key": "a", "amount": 9223372036854775807}, {"key": "a", "amount": 1}]} | the amounts of key 'a' in batch 'b' add up to more than
            a total sum overflow      | {"batchId": "b", "events": [{"key": "a", "amount": 9223372036854775807}, {"key": "c", "amount": 1}]} | the amounts of batch 'b' add up to more than
            """)
    void malformedInputIsRefusedNamingTheField(String what, String json, String message) {
        assertThatThrownBy(() -> parse(json)).isInstanceOf(InvalidInputException.class).hasMessageContaining(message);
    }

    @Test
    void sizeLimitsAreStatedInTheMessage() {
        var id = "x".repeat(Batch.MAX_ID_BYTES + 1);
        assertThatThrownBy(() -> parse("{\"batchId\": \"" + id + "\", \"events\": [{\"key\": \"a\", \"amount\": 1}]}"))
                .hasMessage("batchId must be at most 128 bytes in UTF-8, but was 129");
        var key = "é".repeat(Event.MAX_KEY_BYTES / 2 + 1);
        assertThatThrownBy(() -> parse("{\"batchId\": \"b\", \"events\": [{\"key\": \"" + key + "\", \"amount\": 1}]}"))
                .hasMessage("events[0]: key must be at most 256 bytes in UTF-8, but was 258");
        var events = new StringBuilder();
        for (int i = 0; i <= Batch.MAX_EVENTS; i++) {
            events.append(i == 0 ? "" : ",").append("{\"key\": \"k\", \"amount\": 1}");
        }
        assertThatThrownBy(() -> parse("{\"batchId\": \"b\", \"events\": [" + events + "]}"))
                .hasMessageContaining("at most 1000 events, but this one has 1001; split it");
    }

    @Test
    void partsAggregateEachKeyOnItsCoreAndTheOwnerAlwaysHasOne() {
        int cores = 4;
        var batch = new Batch("owner-test", List.of(new Event("a", 1), new Event("b", 2), new Event("a", 3),
                new Event("c", -4)));
        int owner = (LaminarRuntime.coreOf("a".getBytes(StandardCharsets.UTF_8), 256, cores) + 1) % cores;
        var parts = batch.parts(key -> LaminarRuntime.coreOf(key, 256, cores), owner);

        assertThat(parts).containsKey(owner);
        assertThat(parts.get(owner).owner()).isTrue();
        assertThat(parts.values().stream().filter(BatchPart::owner)).hasSize(1);
        var all = parts.values().stream().flatMap(p -> p.deltas().stream()).toList();
        assertThat(all).containsExactlyInAnyOrder(new BatchPart.KeyDelta("a", 4, 2), new BatchPart.KeyDelta("b", 2, 1),
                new BatchPart.KeyDelta("c", -4, 1));
        parts.forEach((core, part) -> part.deltas().forEach(delta -> assertThat(
                LaminarRuntime.coreOf(delta.key().getBytes(StandardCharsets.UTF_8), 256, cores)).isEqualTo(core)));
    }

    @Test
    void theDigestTellsARetryFromAnotherBatchWithTheSameId() {
        var batch = new Batch("b", List.of(new Event("a", 1), new Event("b", 2)));
        assertThat(new Batch("b", List.of(new Event("a", 1), new Event("b", 2))).digest()).isEqualTo(batch.digest());
        assertThat(new Batch("b", List.of(new Event("a", 1), new Event("b", 3))).digest()).isNotEqualTo(batch.digest());
        assertThat(new Batch("b", List.of(new Event("ab", 1))).digest())
                .isNotEqualTo(new Batch("b", List.of(new Event("a", 1))).digest());
        assertThat(batch.digest()).hasSize(Batch.DIGEST_LENGTH);
    }
}
