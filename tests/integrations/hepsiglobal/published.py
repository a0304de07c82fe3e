"""HepsiGlobal's published examples, word for word, each with the page it comes from
(HepsiGlobal Marketplace API, https://5fw3cce26o.apidog.io; seeds 000 and 001 are copies)."""

from __future__ import annotations

# "Webhooks Integration API > Orders > Order cancel (canceled by seller)", PUT
# /webhooks/order-cancel (https://5fw3cce26o.apidog.io/api-9020680, seed 001): the request
# example, as the page prints it, and its answer.
ORDER_CANCEL_BODY = b"""{
    "cancel_id": 1078354,
    "order_number": "NMSAC3R37F2891PN-IO-1",
    "cancel_quantity": 1,
    "order_item_number": "NMSAC3R37F2891PN-IO-1_HBCV000057B1XL",
    "reason": "out_of_stock"
}"""
ORDER_CANCEL_ANSWER: dict = {}

# "Refunds > Create Refund", POST /v1/refunds (https://5fw3cce26o.apidog.io/api-9796992, seed
# 000): the request example and the 200 answer.
CREATE_REFUND_BODY = b"""{
    "refund_number": "r12345",
    "order_number": "mp_order123",
    "refund_date": "2024-09-04T23:20:21+03:00",
    "items": [
        {
            "order_item_number": "oi1",
            "quantity": 1,
            "reason": "incorrect_order",
            "amount": 2.34,
            "currency": "USD",
            "customer_explanation": "bad product"
        },
        {
            "order_item_number": "oi2",
            "quantity": 1,
            "reason": "incompatibility_issues",
            "amount": 1.23,
            "currency": "USD",
            "customer_explanation": "bad product"
        }
    ]
}"""
CREATE_REFUND_ANSWER = {"request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P"}

# "Authentication > Create token", POST /v1/auth/token
# (https://5fw3cce26o.apidog.io/api-9020670): the request example.
CREATE_TOKEN_BODY = {
    "grant_type": "client_credentials",
    "client_id": "string",
    "client_secret": "string",
}

# "Orders > Cancel order by marketplace", PUT /v1/orders/{order_number}/order_items/
# {order_item_number} (https://5fw3cce26o.apidog.io/api-9020672): the curl example's path and
# body; its answer is {"data": {}, "message": ...}.
CANCEL_BY_MARKETPLACE_PATH = "/v1/orders/123123123123/order_items/123123123123_750724899922"
CANCEL_BY_MARKETPLACE_BODY = {"reason": "customer_demand"}
