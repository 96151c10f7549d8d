{{ stage(
    'shipments',
    key=['shipment_id'],
    columns=[
        'shipment_id', 'order_id', 'seller_id', 'carrier', 'shipped_at', 'promised_at', 'delivered_at'
    ]
) }}
