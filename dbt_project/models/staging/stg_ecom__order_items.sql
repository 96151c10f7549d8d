{{ stage('order_items', ['order_id', 'line_number'], ['order_id', 'line_number', 'product_id', 'seller_id', 'quantity', 'unit_price', 'discount']) }}
