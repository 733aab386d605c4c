/*
 * feed_douyin_map.h: Douyin API answers in intake's neutral terms (pure
 * functions), beside feed_map.c's Kuaishou record, Douyin push and Kuaishou
 * order mappings:
 *
 *   afterSale.Detail's data   {process_info: {after_sale_info, arbitrate_info,
 *                              logistics_info}, order_info: {shop_order_id,
 *                              sku_order_infos: [...]}}         -> a record
 *   one afterSale.List item   {aftersale_info, order_info: {shop_order_id,
 *                              related_order_info}, text_part}  -> a record
 *   order.orderDetail's data  {shop_order_detail: {..., sku_order_list}}
 *                                                               -> an order
 *
 * (doudian-sdk-golang, api/afterSale_Detail|afterSale_List|order_orderDetail/
 * response). A record goes through intake_feed_from_douyin, as a push payload
 * would (so the reason map and the version rule are the push's): the
 * after-sale id, the order id (shop_order_id) and the line (the sku order
 * id) as text, whether the platform wrote them as numbers (Detail) or text
 * (List); the version is the newest event time (seconds, to ms); the amount
 * is the goods' refund in fen without the refunded shipping (Detail:
 * refund_total_amount - refund_post_amount; List: refund_amount). On top of
 * the push's status, arbitrate_status 1, 4 or 5 is "arbitration" and
 * refund_status 2 "refunding" (PLATFORMS.md), the code then "<status>/a<n>"
 * or "<status>/r2"; the buyer's return parcel is the tracking number. A List
 * item has no reason code: its reason is "other" with the list's reason text
 * (the detail, fetched before a return is created, has the code). Neither
 * names the shop: the caller gives the shop whose token made the call.
 */
#ifndef INTAKE_FEED_DOUYIN_MAP_H
#define INTAKE_FEED_DOUYIN_MAP_H

#include <stddef.h>

#include <jansson.h>

#include "feeds_internal.h"

/* intake_feed_from_douyin_detail / _list_item: one record into out. 0, or
 * -1 with a reason naming the field. */
int intake_feed_from_douyin_detail(json_t *data, const char *shop_id, intake_feed_record_t *out,
                                   char *err, size_t errlen);
int intake_feed_from_douyin_list_item(json_t *item, const char *shop_id, intake_feed_record_t *out,
                                      char *err, size_t errlen);

/* The room intake_feed_order_from_douyin needs in ids for an order of n lines. */
#define INTAKE_DY_ORDER_IDS(n) (256 + 64 * (size_t)(n))

/* intake_feed_order_from_douyin: order.orderDetail's data (or its
 * shop_order_detail) into o, one line per sku order (up to max_lines), each
 * line_id the sku order id (the push's s_id), its sku the merchant's code
 * (code, else out_sku_id, else the platform's sku_id), its price the unit's
 * origin_amount; region "广东省深圳市"; paid and delivered (the earliest
 * logistics_receipt_time, else confirm_receipt_time) in ms; shipping
 * post_amount; discount promotion_amount; freight insured when
 * post_insurance_amount > 0. The category is not the platform's to say
 * (empty); the supplier is the sku's supplier_id, the merchant's own code, or
 * empty. Strings point into doc and ids (INTAKE_DY_ORDER_IDS(max_lines)
 * bytes), lines into the caller's array. 0, or -1 with a reason in err. */
int intake_feed_order_from_douyin(json_t *doc, intake_order_t *o, intake_order_line_t *lines,
                                  size_t max_lines, char *ids, size_t ids_cap, char *err,
                                  size_t errlen);

#endif
