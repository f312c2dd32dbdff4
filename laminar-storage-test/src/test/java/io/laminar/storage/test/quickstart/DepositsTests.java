package io.laminar.storage.test.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.test.AutoConfigureLaminarStorage;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

@SpringBootTest
@AutoConfigureLaminarStorage    // a laminar.storage.dir of its own, deleted when the context closes
class DepositsTests {

    @Autowired
    Deposits deposits;

    @Test
    void depositsAddUp() throws Exception {
        deposits.deposit("alice", new Deposits.Deposit(5)).get();
        assertThat(deposits.deposit("alice", new Deposits.Deposit(7)).get().balance()).isEqualTo(12);
    }
}
