package io.laminar.storage.store.s3;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.Set;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.RetryableException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * What an S3 failure means for the store: whether to retry it, and how to tell the user what to do.
 * Messages are built from the error code, the HTTP status and the request id only: never from
 * request headers, signatures or credentials. Stateless.
 */
final class S3Errors {

    /** How the store treats a failure. */
    enum Kind {
        /** 404: the key (or upload) does not exist. */
        NOT_FOUND,
        /** 412: a conditional write found the key. */
        PRECONDITION_FAILED,
        /** Throttling, a 5xx, a conflicting concurrent conditional write, or an I/O error: try again. */
        TRANSIENT,
        /** Anything else: retrying would fail the same way. */
        PERMANENT
    }

    private static final Set<String> TRANSIENT_CODES = Set.of("SlowDown", "Throttling", "ThrottlingException",
            "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "ConditionalRequestConflict",
            "OperationAborted", "RequestLimitExceeded", "TooManyRequestsException", "IncompleteBody");

    private S3Errors() {
    }

    static Kind classify(SdkException e) {
        if (e instanceof AwsServiceException service) {
            int status = service.statusCode();
            var code = code(service);
            if (status == 404) {
                return Kind.NOT_FOUND;
            }
            if (status == 412) {
                return Kind.PRECONDITION_FAILED;
            }
            if (status == 429 || status >= 500 || status == 409 && "ConditionalRequestConflict".equals(code)
                    || code != null && TRANSIENT_CODES.contains(code)) {
                return Kind.TRANSIENT;
            }
            return Kind.PERMANENT;
        }
        if (e instanceof ApiCallAttemptTimeoutException || e instanceof ApiCallTimeoutException
                || e instanceof RetryableException) {
            return Kind.TRANSIENT;
        }
        if (e instanceof SdkClientException) {
            // Connection refused or reset, timeouts, a body cut short: the network, not the request.
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof IOException) {
                    return Kind.TRANSIENT;
                }
            }
            var message = String.valueOf(e.getMessage());
            if (message.contains("Unable to execute HTTP request") || message.contains("timed out")) {
                return Kind.TRANSIENT;
            }
        }
        return Kind.PERMANENT;
    }

    static boolean isMissingBucket(SdkException e) {
        return e instanceof AwsServiceException service && "NoSuchBucket".equals(code(service));
    }

    /** The error code, or null if the response had none (a HEAD has no body). */
    static String code(AwsServiceException e) {
        var details = e.awsErrorDetails();
        return details == null ? null : details.errorCode();
    }

    /** One line for logs: code, status, request id. */
    static String summary(SdkException e) {
        if (e instanceof AwsServiceException service) {
            return (code(service) == null ? "HTTP " + service.statusCode() : code(service) + " (HTTP "
                    + service.statusCode() + ")") + (service.requestId() == null ? "" : ", request id "
                    + service.requestId());
        }
        return rootCause(e);
    }

    /**
     * The message of a failure: what failed, what the server said, and what the user can do.
     *
     * @param attempts how many attempts were made
     */
    static String describe(SdkException e, String what, String bucket, String prefix, int attempts) {
        var kind = classify(e);
        var tried = attempts > 1 ? " after " + attempts + " attempts" : "";
        var where = "bucket '" + bucket + "'" + (prefix.isEmpty() ? "" : " (prefix '" + prefix + "')");
        if (e instanceof AwsServiceException service) {
            var code = code(service);
            var said = summary(e);
            if ("NoSuchBucket".equals(code)) {
                return what + ": the " + where + " does not exist (" + said + "). Create the bucket, or configure the"
                        + " name of an existing one (and, for an S3-compatible server, check the endpoint and region).";
            }
            if ("InvalidAccessKeyId".equals(code)) {
                return what + ": the server does not know the access key id of the configured credentials (" + said
                        + "). Check the credentials (access key id and secret) this application uses, and that the"
                        + " endpoint is the one they belong to.";
            }
            if ("SignatureDoesNotMatch".equals(code)) {
                return what + ": the server refused the request signature (" + said + "): the secret access key does"
                        + " not belong to the access key id. Check the configured credentials (the secret itself is"
                        + " never logged).";
            }
            if ("ExpiredToken".equals(code) || "InvalidToken".equals(code) || "TokenRefreshRequired".equals(code)) {
                return what + ": the session token of the credentials is expired or invalid (" + said
                        + "). Refresh the credentials, or use a provider that renews them.";
            }
            // A 403 too, so before the blanket 403 below: the clock is wrong, not the permissions.
            if ("RequestTimeTooSkewed".equals(code)) {
                return what + tried + ": the server refused the request because the clock of this machine differs"
                        + " too much from the server's (" + said + "; S3 accepts 15 minutes at most). Synchronize this"
                        + " machine's clock (NTP: chronyd, systemd-timesyncd, or the cloud provider's time service);"
                        + " the credentials and permissions are not the problem.";
            }
            if ("AccessDenied".equals(code) || "AllAccessDisabled".equals(code) || service.statusCode() == 403) {
                return what + ": access to the " + where + " is denied (" + said + "). Grant the credentials'"
                        + " principal s3:ListBucket and s3:ListBucketMultipartUploads on arn:aws:s3:::" + bucket
                        + ", and s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on arn:aws:s3:::"
                        + bucket + "/" + prefix + "*; check bucket policies and, for KMS encryption, the key policy.";
            }
            if ("PermanentRedirect".equals(code) || "AuthorizationHeaderMalformed".equals(code)
                    || service.statusCode() == 301) {
                return what + ": the " + where + " is in another region than the client's (" + said
                        + "). Configure the client with the bucket's region.";
            }
            if (kind == Kind.TRANSIENT) {
                return what + tried + ": the server kept failing (" + said + "). It is throttling or unavailable;"
                        + " the checkpoint can be taken again once it recovers (the previous one stays valid).";
            }
            return what + ": the server refused the request (" + said + ": " + service.awsErrorDetails().errorMessage()
                    + ").";
        }
        var cause = rootCause(e);
        if (cause.contains("Unable to load credentials") || cause.contains("credentials")) {
            return what + ": no usable AWS credentials (" + cause + "). Configure credentials for this application"
                    + " (environment, system properties, a profile, or a container or instance role).";
        }
        if (hasCause(e, UnknownHostException.class)) {
            return what + tried + ": the S3 endpoint's host name does not resolve (" + cause + "). Check the"
                    + " configured endpoint and region.";
        }
        if (hasCause(e, ConnectException.class)) {
            return what + tried + ": cannot connect to the S3 endpoint (" + cause + "). Check the endpoint, that the"
                    + " server is running and that the network allows the connection.";
        }
        if (kind == Kind.TRANSIENT) {
            return what + tried + ": the connection to the S3 endpoint kept failing (" + cause + "). The checkpoint"
                    + " can be taken again once the endpoint is reachable (the previous one stays valid).";
        }
        return what + ": " + cause;
    }

    private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static String rootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        var message = root.getMessage();
        var own = e.getMessage();
        if (root == e || message == null) {
            return String.valueOf(own);
        }
        return own + " (" + root.getClass().getSimpleName() + ": " + message + ")";
    }
}
