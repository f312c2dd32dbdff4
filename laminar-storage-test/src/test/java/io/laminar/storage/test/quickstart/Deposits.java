package io.laminar.storage.test.quickstart;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.laminar.storage.runtime.LaminarRuntime;
import java.util.concurrent.CompletableFuture;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

@RestController
class Deposits {

    record Deposit(long amount) {                  // the request body: {"amount": 5}
    }

    record Balance(String account, long balance) { // the answer: {"account": "alice", "balance": 5}
    }

    private final LaminarRuntime runtime;

    Deposits(LaminarRuntime runtime) {
        this.runtime = runtime;
    }

    @PostMapping("/deposits/{account}")
    CompletableFuture<Balance> deposit(@PathVariable String account, @RequestBody Deposit deposit) {
        byte[] key = account.getBytes(UTF_8);
        return runtime.submitDurable(runtime.coreOf(key), core -> {     // runs on the core's thread
            long balance;
            try {
                balance = Math.addExact(balance(core.store().get(key)), deposit.amount());
            } catch (ArithmeticException overflow) {                     // refused, nothing written
                throw new ResponseStatusException(HttpStatus.UNPROCESSABLE_ENTITY,
                        "the balance of " + account + " would overflow");
            }
            core.store().put(key, Long.toString(balance).getBytes(UTF_8));
            return new Balance(account, balance);
        });                                                               // completes after fdatasync
    }

    @GetMapping("/deposits/{account}")
    CompletableFuture<Balance> balance(@PathVariable String account) {
        byte[] key = account.getBytes(UTF_8);
        return runtime.submit(runtime.coreOf(key), core -> new Balance(account, balance(core.store().get(key))));
    }

    private static long balance(byte[] stored) {
        return stored == null ? 0 : Long.parseLong(new String(stored, UTF_8));
    }
}
