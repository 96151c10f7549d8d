{{ stage('products', ['product_id'], ['product_id', 'seller_id', 'category', 'product_name', 'list_price', 'listed_at']) }}
