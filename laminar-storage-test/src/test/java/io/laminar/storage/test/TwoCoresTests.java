package io.laminar.storage.test;

import io.laminar.storage.runtime.LaminarRuntime;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

/** One of two test classes with different properties, so different cached contexts, in one run. */
@SpringBootTest(classes = LaminarStorageTestApplication.class, properties = "laminar.storage.cores=2")
@AutoConfigureLaminarStorage
class TwoCoresTests {

    @Autowired
    LaminarRuntime runtime;

    @Autowired
    TemporaryDataDirectory directory;

    @Test
    void getsADirectoryOfItsOwnWhileTheOtherContextIsOpen() throws Exception {
        OpenContexts.check(getClass(), this.runtime, this.directory, 2);
    }
}
