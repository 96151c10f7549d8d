{{ stage('loan_schedule', ['loan_id', 'installment_number'], ['loan_id', 'installment_number', 'due_date', 'amount_due']) }}
