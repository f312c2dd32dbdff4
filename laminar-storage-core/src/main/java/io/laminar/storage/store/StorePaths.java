package io.laminar.storage.store;

/**
 * The rule every path in a {@link CheckpointStore} follows, shared by the codec (which refuses a
 * manifest naming another path) and the stores (which refuse to write one), including stores in
 * other packages. Stateless.
 */
public final class StorePaths {

    private StorePaths() {
    }

    /**
     * What is wrong with a store path, or null if it is fine. A path is relative, uses '/' as its
     * only separator, and every segment is a plain name: no empty segment, no "." or "..", no
     * backslash, no ':', no control character. These are the shapes that could resolve outside the
     * store root (or to another file than the one named) on some file system or object store: a
     * ':' names a drive ({@code C:x}) or an alternate data stream ({@code x:y}) on Windows.
     */
    public static String problemWith(String path) {
        if (path != null && path.indexOf(':') >= 0) {
            return "the path '" + path + "' contains a ':'";
        }
        return problemWithKey(path);
    }

    /**
     * What is wrong with an object key prefix, or null if it is fine: the rule of
     * {@link #problemWith} but for ':', which only means something to file systems (an object key
     * never becomes a file name).
     */
    public static String problemWithKey(String path) {
        if (path == null) {
            return "the path is missing";
        }
        if (path.isEmpty()) {
            return "the path is empty";
        }
        if (path.startsWith("/")) {
            return "the path '" + path + "' is absolute";
        }
        if (path.indexOf('\\') >= 0) {
            return "the path '" + path + "' contains a backslash";
        }
        for (int i = 0; i < path.length(); i++) {
            if (Character.isISOControl(path.charAt(i))) {
                return "the path '" + printable(path) + "' contains a control character";
            }
        }
        for (var segment : path.split("/", -1)) {
            if (segment.isEmpty()) {
                return "the path '" + path + "' has an empty segment";
            }
            if (segment.equals(".") || segment.equals("..")) {
                return "the path '" + path + "' has a '" + segment + "' segment";
            }
        }
        return null;
    }

    private static String printable(String path) {
        var sb = new StringBuilder();
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            sb.append(Character.isISOControl(c) ? String.format("\\u%04x", (int) c) : String.valueOf(c));
        }
        return sb.toString();
    }
}
