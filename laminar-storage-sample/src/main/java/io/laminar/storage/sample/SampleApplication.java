package io.laminar.storage.sample;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The sample's entry point. Run the packaged jar: {@code java -jar laminar-storage-sample.jar}
 * (see the module's README for the options and the {@code s3} profile).
 */
@SpringBootApplication
public class SampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }
}
