package io.laminar.storage.state;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;

/**
 * The model the crash tests check recovered state against: a {@link TreeMap} of UTF-8 keys, fed
 * as a {@link ChangelogSink}, and a rendering that compares it with a store or snapshot.
 */
public final class ModelState implements ChangelogSink {

    private final TreeMap<String, byte[]> entries = new TreeMap<>();

    @Override
    public void onPut(byte[] key, byte[] value) {
        entries.put(new String(key, StandardCharsets.UTF_8), value);
    }

    @Override
    public void onDelete(byte[] key) {
        entries.remove(new String(key, StandardCharsets.UTF_8));
    }

    @Override
    public void onClear() {
        entries.clear();
    }

    public boolean containsKey(byte[] key) {
        return entries.containsKey(new String(key, StandardCharsets.UTF_8));
    }

    /** "key=hex value" lines in key order. */
    public List<String> render() {
        var out = new ArrayList<String>();
        entries.forEach((k, v) -> out.add(k + "=" + HexFormat.of().formatHex(v)));
        return out;
    }

    /** The same lines for a store's or snapshot's entries (ASCII keys sort alike in both). */
    public static List<String> render(Iterable<StateEntry> state) {
        var out = new ArrayList<String>();
        for (var e : state) {
            out.add(new String(e.key(), StandardCharsets.UTF_8) + "=" + HexFormat.of().formatHex(e.value()));
        }
        return out;
    }
}
