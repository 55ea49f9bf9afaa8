"""A loan from end to end in a real headless Chromium, between two `maillage run` processes.

Node A (Ressourcerie du Plateau) lends, node B (Banque alimentaire) borrows; the accounts were
given their passwords by `maillage admin password`. Every step is a click or a typed field.
"""

from __future__ import annotations

import re
from typing import Any

from .federation import Node, add_resource, eventually, login, open_agreement, request_first_result, search


def test_a_resource_added_on_one_node_is_found_asked_for_accepted_and_sealed(nodes: tuple[Node, Node],
                                                                              new_page: Any) -> None:
    lender, borrower = nodes
    admin, member = new_page(), new_page()

    # On A, the administrator signs in and adds a resource through the catalogue form.
    login(admin, lender, "admin")
    add_resource(admin, lender, "Remorque vélo 80 kg", kind="vehicle",
                 description="Remorque pour vélo cargo, sangles fournies", lat="45,7740", lon="4,8280")
    assert "Remorque vélo 80 kg" in admin.content()

    # On B, a member finds it with the search page and asks for it.
    login(member, borrower, "marie")
    search(member, borrower, "remorque", 5, 6)
    result = member.locator("ol.resultats li", has_text="Remorque vélo 80 kg")
    assert "Ressourcerie du Plateau" in result.inner_text()
    loan = request_first_result(member, "Distribution de colis")
    assert "Remorque vélo 80 kg" in member.content()

    # On A, the request reaches the agreements page; the administrator opens it and accepts.
    def listed() -> bool:
        admin.goto(lender.url + "/accords")
        return admin.locator(f"a[href='/accords/{loan}']").count() > 0

    eventually(listed, what="the request on the lender's agreements page")
    with admin.expect_navigation():
        admin.locator(f"a[href='/accords/{loan}']").first.click()
    assert "Distribution de colis" in admin.content()
    with admin.expect_navigation():
        admin.click(f"form[action='/accords/{loan}/accept'] button[type=submit]")
    assert re.search(f"/accords/{loan}(#|$)", admin.url), admin.url

    # On B, the agreement shows as sealed, every signature verified.
    open_agreement(member, borrower, loan, text="Signatures vérifiées")
    body = member.locator("main").inner_text()
    assert "scellé" in body and "Signatures vérifiées" in body, body
    assert "Conditions scellées" in body

    # The English version renders too (language link in the header), and French comes back the same way.
    with member.expect_navigation():
        member.click("nav.lang a[hreflang=en]")
    assert member.locator("html").get_attribute("lang") == "en"
    nav = member.locator("nav.main").inner_text()
    assert "Agreements" in nav and "Home" in nav, nav
    assert "Remorque vélo 80 kg" in member.content()
    member.goto(borrower.url + "/chercher")  # the choice is kept (cookie) from page to page
    assert member.locator("html").get_attribute("lang") == "en"
    member.goto(f"{borrower.url}/accords/{loan}")
    with member.expect_navigation():
        member.click("nav.lang a[hreflang=fr]")
    assert member.locator("html").get_attribute("lang") == "fr"
    assert "Signatures vérifiées" in member.locator("main").inner_text()


def test_a_reader_has_no_button_and_a_forged_post_is_refused(nodes: tuple[Node, Node], new_page: Any,
                                                             requested_loan: str) -> None:
    lender, _ = nodes
    page = new_page()
    login(page, lender, "lucien")
    open_agreement(page, lender, requested_loan)
    assert "Sono portable 200 W" in page.content() and "lecture seule" in page.content()
    assert page.locator(f"form[action='/accords/{requested_loan}/accept']").count() == 0
    assert page.get_by_role("button", name="Accepter").count() == 0
    # The reader's own, valid CSRF token (from the page's sign-out form), posted by hand: still refused.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"{lender.url}/accords/{requested_loan}/accept", form={"csrf_token": token},
                                 max_redirects=0)
    assert response.status == 403, response.status
    page.goto(f"{lender.url}/accords/{requested_loan}")
    assert "À vous de répondre" in page.content() or "demandé" in page.content()


PRIVATE_PAGES = ["/", "/catalogue", "/catalogue/nouveau", "/chercher?q=sono", "/accords", "/pairs", "/audit", "/compte"]


def test_a_signed_out_visitor_is_sent_to_the_sign_in_page(nodes: tuple[Node, Node], new_page: Any,
                                                         requested_loan: str) -> None:
    lender, _ = nodes
    page = new_page()
    for path in [*PRIVATE_PAGES, f"/accords/{requested_loan}"]:
        response = page.goto(lender.url + path)
        assert response is not None and response.status == 200
        assert re.search(r"/connexion(\?|$)", page.url), (path, page.url)
        main = page.locator("main").inner_text()
        for private in ("Sono portable", "Banque alimentaire", "Fête de quartier", requested_loan):
            assert private not in main, (path, private)
        assert page.locator("form[action='/connexion'] #password").count() == 1
    # A form posted without signing in changes nothing either.
    response = page.request.post(f"{lender.url}/accords/{requested_loan}/accept", form={"csrf_token": "0" * 64},
                                 max_redirects=0)
    assert response.status in (303, 403), response.status


def test_a_form_without_its_csrf_token_is_refused(nodes: tuple[Node, Node], new_page: Any) -> None:
    lender, _ = nodes
    page = new_page()
    login(page, lender, "admin")
    page.goto(lender.url + "/catalogue/nouveau?type=resource")
    page.fill("#title", "Objet jamais publié")
    # A forged form: the hidden token removed (as a cross-site page could not know it), then sent.
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    with page.expect_navigation() as navigation:
        page.click("form.stack button[type=submit]")
    assert navigation.value.status == 403
    # A wrong token is refused the same way.
    page.goto(lender.url + "/catalogue/nouveau?type=resource")
    page.fill("#title", "Objet jamais publié")
    page.evaluate("document.querySelector('form.stack input[name=csrf_token]').value = 'f'.repeat(64)")
    with page.expect_navigation() as navigation:
        page.click("form.stack button[type=submit]")
    assert navigation.value.status == 403
    page.goto(lender.url + "/catalogue")
    assert "Objet jamais publié" not in page.content()
