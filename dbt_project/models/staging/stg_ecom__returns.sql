{{ stage(
    'returns',
    key=['return_id'],
    columns=[
        'return_id', 'order_id', 'line_number', 'reason', 'refund_amount', 'returned_at'
    ]
) }}
