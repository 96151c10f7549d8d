{{ stage(
    'payments',
    key=['payment_id'],
    columns=[
        'payment_id', 'order_id', 'method', 'amount', 'installments', 'paid_at'
    ]
) }}
