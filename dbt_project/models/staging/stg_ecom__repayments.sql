{{ stage('repayments', ['repayment_id'], ['repayment_id', 'loan_id', 'installment_number', 'amount', 'paid_at']) }}
