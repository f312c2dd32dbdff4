package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** What the store tells a user about an S3 error answer, as the server words it (code and status). */
class S3ErrorsTest {

    private static S3Exception answer(int status, String code, String message) {
        return (S3Exception) S3Exception.builder().statusCode(status).requestId("req-1")
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(message).build()).build();
    }

    @Test
    void aSkewedClockIsReportedAsAClockProblemNotAsDeniedAccess() {
        var skewed = answer(403, "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.");

        var message = S3Errors.describe(skewed, "cannot read state file 'a' (s3://b/a)", "b", "", 3);

        assertThat(message).contains("cannot read state file 'a'", "RequestTimeTooSkewed", "HTTP 403", "clock")
                .contains("after 3 attempts")
                .doesNotContain("denied").doesNotContain("s3:GetObject");
    }

    @Test
    void aPlain403IsStillReportedAsDeniedAccessNamingThePermissions() {
        var denied = answer(403, "AccessDenied", "Access Denied");

        var message = S3Errors.describe(denied, "cannot read state file 'a' (s3://b/p/a)", "b", "p/", 1);

        assertThat(message).contains("denied", "s3:GetObject", "arn:aws:s3:::b/p/*");
    }
}
