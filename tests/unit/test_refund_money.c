/*
 * test_refund_money.c: table-driven tests of the refund worker's money rules
 * (services/refund/money.c): unit shares with the remainder on the last
 * units, shipping, return-shipping deduction, the requested amount, the cap
 * across all refunds of a line, exchanges, and the finance threshold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/refund/refund.h"

/* refund_units_value: floor of cumulative shares; together the units are
 * worth exactly what was paid, however they are split. */
static void unit_shares(void **state) {
    (void)state;
    static const struct {
        int64_t paid, qty, from, n, want;
    } cases[] = {
        {1000, 3, 0, 1, 333}, /* 333 | 333 | 334: the remainder on the last unit */
        {1000, 3, 1, 1, 333},
        {1000, 3, 2, 1, 334},
        {1000, 3, 0, 3, 1000},
        {1000, 3, 1, 2, 667},
        {1, 3, 0, 2, 0}, /* one fen over three units: only the last carries it */
        {1, 3, 2, 1, 1},
        {9999, 1, 0, 1, 9999},
        {0, 5, 0, 5, 0},
        {1000, 3, 3, 1, 0},                      /* nothing left on the line */
        {1000, 3, 2, 5, 334},                    /* more than is left: clipped */
        {1000, 0, 0, 1, 0},                      /* unknown line */
        {INT64_MAX / 4, 7, 0, 7, INT64_MAX / 4}, /* no overflow (128-bit products) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(refund_units_value(cases[i].paid, cases[i].qty, cases[i].from, cases[i].n),
                         cases[i].want);
    /* every split of 7 units paid 1000 adds up to 1000 */
    for (int64_t a = 0; a <= 7; a++)
        for (int64_t b = 0; a + b <= 7; b++)
            assert_int_equal(refund_units_value(1000, 7, 0, a) + refund_units_value(1000, 7, a, b) +
                                 refund_units_value(1000, 7, a + b, 7 - a - b),
                             1000);
}

typedef struct money_case {
    const char *what;
    refund_money_in_t in;
    int64_t goods, shipping, deduction, cap, amount;
} money_case_t;

static void amounts(void **state) {
    (void)state;
    /* A line of 3 units paid 1000 fen after discount, 600 fen shipping share. */
#define LINE .line_paid_fen = 1000, .line_quantity = 3, .shipping_fen = 600
    static const money_case_t cases[] = {
        {"one unit, asked in full", {.requested_fen = 333, LINE, .units = 1}, 333, 0, 0, 1600, 333},
        {"asks less than paid", {.requested_fen = 200, LINE, .units = 1}, 333, 0, 0, 1600, 200},
        {"asks more than the unit is worth",
         {.requested_fen = 900, LINE, .units = 1},
         333,
         0,
         0,
         1600,
         333},
        {"whole line, seller at fault: shipping back",
         {.requested_fen = 1600, LINE, .units = 3, .seller_at_fault = true},
         1000,
         600,
         0,
         1600,
         1600},
        {"whole line, buyer's reason: no shipping",
         {.requested_fen = 1600, LINE, .units = 3},
         1000,
         0,
         0,
         1600,
         1000},
        {"partial, seller at fault: shipping only with the last units",
         {.requested_fen = 1600, LINE, .units = 2, .seller_at_fault = true},
         666,
         0,
         0,
         1600,
         666},
        {"second return completes the line: remainder and shipping",
         {.requested_fen = 2000,
          LINE,
          .units = 1,
          .units_before = 2,
          .refunded_before_fen = 666,
          .seller_at_fault = true},
         334,
         600,
         0,
         934,
         934},
        {"buyer pays return shipping, uninsured",
         {.requested_fen = 333,
          LINE,
          .units = 1,
          .buyer_pays_return = true,
          .return_shipping_fen = 100},
         333,
         0,
         100,
         1600,
         233},
        {"deduction larger than the goods: nothing, never negative",
         {.requested_fen = 333,
          LINE,
          .units = 1,
          .buyer_pays_return = true,
          .return_shipping_fen = 5000},
         333,
         0,
         5000,
         1600,
         0},
        {"cap: earlier refunds took almost everything",
         {.requested_fen = 333, LINE, .units = 1, .units_before = 1, .refunded_before_fen = 1500},
         333,
         0,
         0,
         100,
         100},
        {"cap: the line is fully refunded",
         {.requested_fen = 333, LINE, .units = 1, .units_before = 2, .refunded_before_fen = 1600},
         334,
         0,
         0,
         0,
         0},
        {"exchange: nothing in money",
         {.requested_fen = 333, LINE, .units = 1, .exchange = true},
         0,
         0,
         0,
         0,
         0},
        {"no line facts: the approved amount stands",
         {.requested_fen = 2500, .units = 1},
         2500,
         0,
         0,
         2500,
         2500},
    };
#undef LINE
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const money_case_t *c = &cases[i];
        refund_money_t m;
        assert_int_equal(refund_compute(&c->in, &m), 0);
        if (m.goods_fen != c->goods || m.shipping_fen != c->shipping ||
            m.deduction_fen != c->deduction || m.cap_fen != c->cap || m.amount_fen != c->amount)
            fail_msg("%s: goods %lld shipping %lld deduction %lld cap %lld amount %lld", c->what,
                     (long long)m.goods_fen, (long long)m.shipping_fen, (long long)m.deduction_fen,
                     (long long)m.cap_fen, (long long)m.amount_fen);
    }
}

/* Several returns on one line never refund more than was paid for it. */
static void cap_across_returns(void **state) {
    (void)state;
    int64_t paid = 1001, qty = 4, ship = 99, units_before = 0, refunded = 0;
    for (int i = 0; i < 4; i++) {
        refund_money_in_t in = {.requested_fen = 1000000,
                                .line_paid_fen = paid,
                                .line_quantity = qty,
                                .shipping_fen = ship,
                                .units = 1,
                                .units_before = units_before,
                                .refunded_before_fen = refunded,
                                .seller_at_fault = true};
        refund_money_t m;
        assert_int_equal(refund_compute(&in, &m), 0);
        refunded += m.amount_fen;
        units_before += 1;
        assert_true(refunded <= paid + ship);
    }
    assert_int_equal(refunded, paid + ship);
}

static void bad_input(void **state) {
    (void)state;
    refund_money_t m;
    refund_money_in_t in = {
        .requested_fen = -1, .line_paid_fen = 100, .line_quantity = 1, .units = 1};
    assert_int_equal(refund_compute(&in, &m), -1);
    in.requested_fen = 1;
    in.units = -1;
    assert_int_equal(refund_compute(&in, &m), -1);
}

static void finance_and_retries(void **state) {
    (void)state;
    assert_false(refund_needs_finance(100000, 100000)); /* "above" the threshold */
    assert_true(refund_needs_finance(100001, 100000));
    assert_int_equal(refund_retry_delay_ms(500, 1), 500);
    assert_int_equal(refund_retry_delay_ms(500, 3), 2000);
    assert_int_equal(refund_retry_delay_ms(500, 40), 3600000);
    assert_true(refund_seller_at_fault("supplier"));
    assert_true(refund_seller_at_fault("carrier"));
    assert_true(refund_seller_at_fault("merchant"));
    assert_false(refund_seller_at_fault("buyer"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unit_shares),         cmocka_unit_test(amounts),
        cmocka_unit_test(cap_across_returns),  cmocka_unit_test(bad_input),
        cmocka_unit_test(finance_and_retries),
    };
    return cmocka_run_group_tests_name("refund_money", tests, NULL, NULL);
}
