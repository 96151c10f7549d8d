{{ stage('payments', ['payment_id'], ['payment_id', 'order_id', 'method', 'amount', 'installments', 'paid_at']) }}
