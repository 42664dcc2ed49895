def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="email"' in response.data


def test_seller_lands_on_their_reviews(seller_client):
    response = seller_client.get("/seller/reviews")
    assert response.status_code == 200
    assert b"My reviews" in response.data
