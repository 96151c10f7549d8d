{{ stage(
    'loan_schedule',
    key=['loan_id', 'installment_number'],
    columns=[
        'loan_id', 'installment_number', 'due_date', 'amount_due'
    ]
) }}
