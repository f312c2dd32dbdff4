package io.laminar.storage.iouring;

/** Names of the errno values the io_uring backend meets, for messages. */
final class Errno {

    private Errno() {
    }

    /** e.g. {@code EBADF (errno 9)}. */
    static String describe(int errno) {
        String name = switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 4 -> "EINTR";
            case 5 -> "EIO";
            case 9 -> "EBADF";
            case 12 -> "ENOMEM";
            case 13 -> "EACCES";
            case 14 -> "EFAULT";
            case 22 -> "EINVAL";
            case 27 -> "EFBIG";
            case 28 -> "ENOSPC";
            case 30 -> "EROFS";
            case 38 -> "ENOSYS";
            case 122 -> "EDQUOT";
            case 125 -> "ECANCELED";
            default -> "errno";
        };
        return name + " (errno " + errno + ")";
    }
}
