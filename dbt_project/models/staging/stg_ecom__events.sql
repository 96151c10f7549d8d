{{ stage(
    'events',
    key=['event_id'],
    columns=[
        'event_id', 'session_id', 'customer_id', 'event_type', 'product_id', 'event_at'
    ]
) }}
