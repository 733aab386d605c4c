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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispositions),
        cmocka_unit_test(locations),
        cmocka_unit_test(grades),
    };
    return cmocka_run_group_tests_name("warehouse", tests, NULL, NULL);
}
