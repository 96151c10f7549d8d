{{ stage(
    'repayments',
    key=['repayment_id'],
    columns=[
        'repayment_id', 'loan_id', 'installment_number', 'amount', 'paid_at'
    ]
) }}
