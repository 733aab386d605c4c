/*
 * test_warehouse.c: unit tests for the warehouse worker's goods handling:
 * grades, dispositions and stock ledger locations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/warehouse/warehouse.h"

static void dispositions(void **state) {
    (void)state;
    assert_string_equal(warehouse_disposition("resellable"), "restock");
    assert_string_equal(warehouse_disposition("packaging_damaged"), "quarantine");
    assert_string_equal(warehouse_disposition("goods_damaged"), "return_to_supplier");
    assert_string_equal(warehouse_disposition("missing_parts"), "return_to_supplier");
    assert_string_equal(warehouse_disposition("wrong_item"), "quarantine");
    assert_string_equal(warehouse_disposition("empty_box"), "scrap");
}

static void locations(void **state) {
    (void)state;
    assert_string_equal(warehouse_location("restock"), "stock");
    assert_string_equal(warehouse_location("quarantine"), "quarantine");
    assert_string_equal(warehouse_location("return_to_supplier"), "supplier");
    assert_string_equal(warehouse_location("scrap"), "scrap");
}

static void grades(void **state) {
    (void)state;
    assert_true(warehouse_grade_known("resellable"));
    assert_true(warehouse_grade_known("empty_box"));
    assert_false(warehouse_grade_known("fine"));
}

static void supplier_leg(void **state) {
    (void)state;
    static const struct {
        const char *from, *to;
        bool ok;
    } cases[] = {
        {"requested", "in_transit", true},
        {"requested", "supplier_received", true},
        {"in_transit", "supplier_received", true},
        {"supplier_received", "supplier_credit_issued", true},
        {"supplier_received", "supplier_credit_denied", true},
        {"requested", "supplier_credit_issued", false},
        {"in_transit", "requested", false},
        {"supplier_credit_issued", "supplier_credit_denied", false},
        {"supplier_credit_denied", "supplier_received", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (warehouse_leg_can_move(cases[i].from, cases[i].to) != cases[i].ok)
            fail_msg("%s -> %s", cases[i].from, cases[i].to);
    assert_true(warehouse_leg_state_known("in_transit"));
    assert_false(warehouse_leg_state_known("lost"));
    assert_true(warehouse_needs_supplier_leg("supplier", "restock"));
    assert_true(warehouse_needs_supplier_leg("merchant", "return_to_supplier"));
    assert_false(warehouse_needs_supplier_leg("merchant", "restock"));
}

static void reship(void **state) {
    (void)state;
    assert_true(warehouse_reship_can_move("requested", "shipped"));
    assert_true(warehouse_reship_can_move("shipped", "delivered"));
    assert_false(warehouse_reship_can_move("requested", "delivered"));
    assert_false(warehouse_reship_can_move("delivered", "shipped"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(supplier_leg), cmocka_unit_test(reship), cmocka_unit_test(dispositions),
        cmocka_unit_test(locations),    cmocka_unit_test(grades),
    };
    return cmocka_run_group_tests_name("warehouse", tests, NULL, NULL);
}
