package io.laminar.storage.test;

import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;

/**
 * The application the tests of this package start: the auto-configuration and nothing else (no
 * component scan, which would find the quick start's beans in the subpackage). Its configuration is
 * the quick start's {@code application.yml}, whose {@code laminar.storage.dir} the annotation
 * replaces.
 */
@SpringBootConfiguration
@EnableAutoConfiguration
public class LaminarStorageTestApplication {
}
