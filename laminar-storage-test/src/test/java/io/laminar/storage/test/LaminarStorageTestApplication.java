package io.laminar.storage.test;

import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The application the tests of this package start: the starter's auto-configuration and nothing else. */
@SpringBootApplication
public class LaminarStorageTestApplication {
}
