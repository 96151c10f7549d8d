{{ stage('loans', ['loan_id'], ['loan_id', 'seller_id', 'principal', 'annual_rate', 'term_months', 'originated_at']) }}
