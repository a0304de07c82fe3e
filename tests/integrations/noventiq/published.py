"""Noventiq's own published examples, as fixtures (each names its page)."""

# "Webhook examples", docs.noventiq.com/en-en/checkout/webhooks-examples ("Generating
# Signatures"): the example body, byte for byte as the page shows it, its secret key and the
# signature the page gives for them.
WEBHOOK_EXAMPLE_PAGE = "https://docs.noventiq.com/en-en/checkout/webhooks-examples"
WEBHOOK_EXAMPLE_SECRET = "secret_key"
WEBHOOK_EXAMPLE_SIGNATURE = (
    "1d0e480e14922b2e330216b2d34b3b9998267067143cf9ef7caaf3637de0307f"
    "207b7c6b1cd94ece313366baa24014c488796eef3dabbe8e60e7d1e72c73918d"
)
# The string the page says it hashes.
WEBHOOK_EXAMPLE_SIGNED_TEXT = (
    "secret_key;order.created;5555555;2021-08-13T09:16:35+03:00;CreditCard;EUR;customer@gmail.com"
)
WEBHOOK_EXAMPLE_BODY = b"""{
  "event": "order.created",
  "event_date": "2021-08-13T09:16:35+03:00",
  "order_id": 5555555,
  "order_name": "A0005555555",
  "status": "not paid",
  "external_id": "TEST12025",
  "create_date": "2021-08-13T09:16:35+03:00",
  "pay_date": "",
  "currency": "EUR",
  "locale": "en_EN",
  "order_detail_url": "https://shop.checkout.noventiq.com/order/status/5555555/1a97507",
  "customer": {
    "country": "FR",
    "type": "physical",
    "email": "customer@gmail.com",
    "first_name": "Marcel",
    "last_name": "Laporte",
    "phone": "",
    "vat_number": "",
    "company_name": "",
    "company_billing_address": "",
    "company_delivery_address": ""
  },
  "product": {
    "id": "111111",
    "vendor_code": "0001",
    "sku": "0001",
    "business_segment": "b2c",
    "name": "Demo",
    "price": "100.00",
    "quantity": 1,
    "discount_percent": "",
    "discount_amount": "",
    "vat_amount": "0.00",
    "amount": "100.00",
    "margin": "90.00"
  },
  "payment": {
    "payment_method": "CreditCard",
    "payment_system_name": "Bank Card",
    "card_type": "",
    "card_last_4": null,
    "card_expiration_date": "",
    "is_card_expired": false,
    "is_installment_payment": false
  },
  "document_part": "1-of-1"
}"""

# "[POST] Create Order Refund Requests" (docs.noventiq.com/en-en/checkout/
# orders-api-create-refund-request; seed 002): the request example and the error body example.
REFUND_REQUEST_EXAMPLE = {"description": "Wrong product", "email": "merchant@gmail.com"}
ERROR_BODY_EXAMPLE = {"errors": [{"error": 15020, "message": "Order not found."}]}
